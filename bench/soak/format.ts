/** The units the progress lines and the report print. */
export const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
export const mb = (b: number): string => `${round(b / 1024 / 1024, 1)} MB`;
export const size = (b: number): string => (b < 1024 * 1024 ? `${round(b / 1024, 1)} KB` : mb(b));
export const kbPerMin = (b: number): string => (Number.isFinite(b) ? `${b >= 0 ? '+' : ''}${round(b / 1024, 1)} KB/min` : 'n/a');
export const ms = (x: number): string => (Number.isFinite(x) ? `${round(x, 1)} ms` : '-');
export const clock = (s: number): string => `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
