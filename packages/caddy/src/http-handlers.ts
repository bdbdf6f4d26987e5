import type { Route } from '@caddyfleet/protocol';
import type { HttpHandler, HttpRoute } from './caddy-json';

/** The only placeholder this package ever writes; user strings are validated to contain no braces. */
const REQUEST_URI = '{http.request.uri}';

function htmlPage(title: string, text: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>\n`;
}

function notFound(text: string): HttpHandler {
  return {
    handler: 'static_response',
    status_code: 404,
    headers: { 'Content-Type': ['text/html; charset=utf-8'] },
    body: htmlPage('404 Not Found', text),
  };
}

export function redirectHandler(redirect: NonNullable<Route['redirect']>): HttpHandler {
  // The request URI always starts with '/', so a trailing slash on the target would double it.
  const location = redirect.preservePath ? redirect.to.replace(/\/+$/, '') + REQUEST_URI : redirect.to;
  return { handler: 'static_response', status_code: redirect.status, headers: { Location: [location] } };
}

export function deadHandler(): HttpHandler {
  return notFound('This site is not served here.');
}

export function hostRoute(domains: string[], handler: HttpHandler): HttpRoute {
  return { match: [{ host: [...domains] }], handle: [handler], terminal: true };
}

/**
 * Last route of every server. Without it Caddy 2.6 answers unknown hosts with an empty 200; it has no
 * host matcher, so Caddy still inserts its HTTP->HTTPS redirects before it (they go after the last
 * route that has a host matcher).
 */
export function catchAllRoute(): HttpRoute {
  return { handle: [notFound('No site is configured for this host name.')], terminal: true };
}
