// createApp(deps): middleware, the routes of each resource, static pages and the error
// middleware, without listening (tests start it on port 0 in-process).

import path from 'node:path';
import express from 'express';
import { notFound } from '../../pipeline/errors.ts';
import { authenticate } from './auth.ts';
import { cors, requestLog, securityHeaders } from './middleware.ts';
import { responseCheck } from './responseCheck.ts';
import { errorMiddleware } from './problems.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { roomRoutes } from './routes/rooms.ts';
import { broadcastRoutes } from './routes/broadcasts.ts';
import { recordingRoutes } from './routes/recordings.ts';
import { opsRoutes } from './routes/ops.ts';
import { clusterRoutes } from '../cluster/forward.ts';
import { MAX_SDP_BYTES } from '../../pipeline/sdp.ts';
import { log as rootLog } from '../../workers/log.ts';
import type { AppDeps } from './deps.ts';

export type { AppDeps };

export function createApp(deps: AppDeps): express.Express {
  const log = (deps.log ?? rootLog).child({ component: 'http' });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', false);

  app.use(requestLog(log));
  if (process.env.MCU_CHECK_RESPONSES === '1') app.use(responseCheck(log));
  app.use(securityHeaders);
  app.use(cors(deps.corsOrigins ?? '*'));

  const auth = authenticate(deps.tokens ?? null);
  if (deps.cluster) app.use(clusterRoutes(deps, auth));
  app.use(sessionRoutes(deps, auth));
  app.use(roomRoutes(deps, auth));
  app.use(broadcastRoutes(deps, auth));
  app.use(recordingRoutes(deps, auth));
  app.use(opsRoutes(deps, auth));

  if (deps.staticDir) app.use(express.static(path.resolve(deps.staticDir), { index: 'index.html' }));
  app.use((req, _res, next) => next(notFound(`no route for ${req.method} ${req.path}`)));
  app.use(errorMiddleware(log, MAX_SDP_BYTES));
  return app;
}
