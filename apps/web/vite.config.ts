import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The controller serves dist/ at / (SPA fallback, CSP default-src 'self': no inline scripts, no eval).
// `npm run dev -w apps/web` proxies the API to a controller on 127.0.0.1:8080.
export default defineConfig(({ command }) => {
  // A build is always production (React's production bundle and JSX runtime), even when started from a shell
  // or a test runner with NODE_ENV=test/development: Vite and the React plugin both follow NODE_ENV.
  if (command === 'build') process.env.NODE_ENV = 'production';
  return {
    plugins: [react()],
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      target: 'es2022',
      sourcemap: false,
      chunkSizeWarningLimit: 600,
    },
    server: {
      host: '127.0.0.1',
      port: 5173,
      proxy: {
        '/api': { target: 'http://127.0.0.1:8080', changeOrigin: false },
      },
    },
  };
});
