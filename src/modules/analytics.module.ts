/**
 * Analytics wiring: the live dashboard page at /dashboard with its own assets
 * (served locally, scripts as files for the page CSP), and the liveStats poller
 * stopped at shutdown.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Module } from './module';
import { publicFile, registerAsset, sendPage } from '../http/assets';

const DASHBOARD_ASSETS: Record<string, string> = {
  'dashboard.js': publicFile('dashboard/dashboard.js'),
  'dashboard-charts.js': publicFile('dashboard/charts.js'),
  'dashboard.css': publicFile('dashboard/dashboard.css'),
  // The package's exports map hides dist/; its UMD build sits beside the CommonJS entry.
  'chart.js': path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'),
};

let page: string | undefined;

export const installAnalytics: Module = ({ services, hooks }) => {
  for (const [name, file] of Object.entries(DASHBOARD_ASSETS)) registerAsset(name, file);
  hooks.routes.set('/dashboard', (_req, res) => {
    page ??= readFileSync(publicFile('dashboard/index.html'), 'utf8');
    sendPage(res, page);
  });
  hooks.onStop.push(async () => services.liveStats.stop());
};
