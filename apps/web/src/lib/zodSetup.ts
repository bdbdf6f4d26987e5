/**
 * Imported first by main.tsx, before any schema is built: zod 4 decides at schema construction whether to JIT
 * object parsers by probing `new Function("")`, which the controller's CSP (no 'unsafe-eval') blocks, and Chromium
 * reports every blocked probe as a console error. jitless parsing is plenty fast for forms.
 */
import { z } from 'zod';

z.config({ jitless: true });
