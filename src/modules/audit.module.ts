/** The audit log of admin actions (services/audit/), and its admin query. */
import { AuditResolver } from '../resolvers/audit/audit.resolver';
import { AuditService } from '../services/audit/audit.service';
import type { Module } from './module';

export const auditModule: Module = {
  name: 'audit',
  services: ({ config, redis, keys }) => ({ audit: new AuditService(redis, keys, config.audit.maxLen) }),
  resolvers: [AuditResolver],
};
