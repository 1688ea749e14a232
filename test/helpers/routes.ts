// The routes an express app registers (method + OpenAPI-style path), read off its router stack.

import type express from 'express';

export function registeredRoutes(app: express.Express): Array<{ method: string; path: string }> {
  const out: Array<{ method: string; path: string }> = [];
  const walk = (stack: any[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const path = String(layer.route.path).replace(/:(\w+)/g, '{$1}');
        for (const [m, on] of Object.entries<boolean>(layer.route.methods)) if (on && m !== '_all') out.push({ method: m, path });
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as any).router.stack);
  return out;
}
