// Prints a room token for operators:
//   MCU_AUTH_SECRET=... npm run token -- --room r1 --role publisher [--name Ada] [--ttl 3600]
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { ROLES, signToken, type Role } from '../pipeline/auth/tokens.ts';

const { values } = parseArgs({
  options: { room: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' }, ttl: { type: 'string', default: '3600' } },
});
const fail = (msg: string) => {
  console.error(`token: ${msg}\nusage: MCU_AUTH_SECRET=... npm run token -- --room <room|*> --role <${ROLES.join('|')}> [--name N] [--ttl SECONDS]`);
  process.exit(2);
};
const secret = process.env.MCU_AUTH_SECRET;
if (!secret) fail('MCU_AUTH_SECRET is not set');
if (!values.room || !(values.room === '*' || /^[A-Za-z0-9_-]{1,64}$/.test(values.room))) fail('--room must be a room name or *');
if (!ROLES.includes(values.role as Role)) fail(`--role must be one of ${ROLES.join(', ')}`);
const ttl = Number(values.ttl);
const maxTtl = Number(process.env.TOKEN_MAX_TTL_SEC || 86_400);
if (!Number.isInteger(ttl) || ttl <= 0 || ttl > maxTtl) fail(`--ttl must be a whole number of seconds up to ${maxTtl} (TOKEN_MAX_TTL_SEC: the server refuses longer tokens)`);
const now = Math.floor(Date.now() / 1000);
console.log(signToken({ room: values.room!, role: values.role as Role, name: values.name, iat: now, exp: now + ttl, jti: randomUUID() }, secret!));
