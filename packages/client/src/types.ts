import type { operations } from './schema.js';

type Json<Op extends keyof operations, Status extends number> =
  operations[Op]['responses'] extends Record<Status, { content: { 'application/json': infer T } }>
    ? T
    : never;
type Body<Op extends keyof operations> = operations[Op] extends {
  requestBody?: { content: { 'application/json': infer T } };
}
  ? T
  : never;
type Item<Page> = Page extends { data: (infer T)[] } ? T : never;

export type User = Json<'getUser', 200>;
export type CreateUserBody = Body<'createUser'>;
export type UpdateUserBody = Body<'updateUser'>;
export type Role = Json<'getRole', 200>;
export type RoleMember = Item<Json<'listRoleMembers', 200>>;
export type Permission = Body<'createRole'>['permissions'][number];
export type Token = Json<'getToken', 200>;
export type TokenWithSecret = Json<'createToken', 201>;
export type Session = Json<'login', 200>;
export type Me = Json<'getMe', 200>;
export type AuditEvent = Json<'getAuditEvent', 200>;
export type AuditQuery = NonNullable<operations['listAuditEvents']['parameters']['query']>;
export type VerifyResult = Json<'verifyAuditChain', 200>;
export type AuditStream = Json<'getAuditStream', 200>;
export type AuditStreamWithSecret = Json<'createAuditStream', 201>;
export type ConfigDocument = Json<'getConfig', 200>;
export type ConfigChange = Json<'patchConfig', 200>;
export type ConfigVersion = Item<Json<'listConfigHistory', 200>>;
export type Webhook = Json<'getWebhook', 200>;
export type WebhookWithSecret = Json<'createWebhook', 201>;
export type Delivery = Item<Json<'listWebhookDeliveries', 200>>;
export type Plugin = Json<'getPlugin', 200>;
export type PluginWithSecret = Json<'registerPlugin', 201>;
export type RegisterPluginBody = Body<'registerPlugin'>;
export type EventType = Item<Json<'listEventTypes', 200>>;
export type AuthProvider = Json<'getAuthProvider', 200>;
export type MfaFactor = Json<'listMyMfa', 200> extends { factors: (infer F)[] } ? F : never;
