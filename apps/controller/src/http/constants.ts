export const API_PREFIX = '/api/v1';
export const VERSION = '0.1.0';
