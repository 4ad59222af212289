/**
 * Analytics and experiments: tracking, reading, the live feed, A/B tests; the live dashboard
 * page at /dashboard with its own assets (served locally, scripts as files for the page CSP).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { publicFile, registerAsset, sendPage } from '../http/assets';
import { AnalyticsResolver } from '../resolvers/analytics/analytics.resolver';
import { ExperimentResolver } from '../resolvers/analytics/experiment.resolver';
import { AnalyticsService } from '../services/analytics/analytics.service';
import { AnalyticsHistory } from '../services/analytics/history.service';
import { ExperimentService } from '../services/analytics/experiment.service';
import { LiveStatsService } from '../services/analytics/live-stats.service';
import { VisitorBudget } from '../services/analytics/visitor-budget';
import { VisitorService } from '../services/analytics/visitor.service';
import type { Module } from './module';

const DASHBOARD_ASSETS: Record<string, string> = {
  'dashboard.js': publicFile('dashboard/dashboard.js'),
  'dashboard-charts.js': publicFile('dashboard/charts.js'),
  'dashboard.css': publicFile('dashboard/dashboard.css'),
  // The package's exports map hides dist/; its UMD build sits beside the CommonJS entry.
  'chart.js': path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'),
};

let page: string | undefined;

export const analyticsModule: Module = {
  name: 'analytics',
  services({ config, redis, keys, pubsub, log }, { orders }) {
    const visitors = new VisitorService(redis, keys);
    const visitorBudget = new VisitorBudget(keys, visitors, config);
    const experiments = new ExperimentService(redis, keys, visitors, visitorBudget, config);
    const analytics = new AnalyticsService(redis, keys, visitors, experiments, visitorBudget, config);
    // Revenue comes from orders, server-side, in whichever process completes them (gateway or worker).
    orders.onCompleted((order) => analytics.recordOrder(order));
    return {
      visitors,
      visitorBudget,
      experiments,
      analytics,
      analyticsHistory: new AnalyticsHistory(redis, keys, config),
      liveStats: new LiveStatsService(redis, keys, pubsub, analytics, log),
    };
  },
  resolvers: [AnalyticsResolver, ExperimentResolver],
  install({ services, hooks }) {
    for (const [name, file] of Object.entries(DASHBOARD_ASSETS)) registerAsset(name, file);
    hooks.routes.set('/dashboard', (_req, res) => {
      page ??= readFileSync(publicFile('dashboard/index.html'), 'utf8');
      sendPage(res, page);
    });
    hooks.onStop.push(async () => services.liveStats.stop());
  },
};
