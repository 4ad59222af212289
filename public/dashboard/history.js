// History panel: the date range every history panel uses (a day, 7 days, 30 days) and page
// views over that range, from the hourly rollups (a day: per-minute points summed per hour).
// Changing the range tells the other panels through a `dashboard-range` event on document.
(function () {
  'use strict';

  var P = window.DashboardPanels;
  var el = P.el;
  // Days -> the pageViewSeries window and the width of a bar.
  var RANGES = {
    1: { label: 'Day', minutes: 1440, bar: 3600000 },
    7: { label: '7 days', minutes: 7 * 1440, bar: 3600000 },
    30: { label: '30 days', minutes: 30 * 1440, bar: 86400000 },
  };
  var range = (window.DashboardRange = { days: 7 });
  var api = null;
  var chart = null;
  var seq = 0;

  var buttons = Object.keys(RANGES).map(function (days) {
    return el('button', { type: 'button', 'data-days': days, 'aria-pressed': String(Number(days) === range.days), text: RANGES[days].label });
  });
  var bar = el(
    'div',
    { id: 'range', class: 'range', role: 'group', 'aria-label': 'Date range of the history panels' },
    [el('span', { class: 'muted', text: 'History' })].concat(buttons),
  );
  var status = el('small', { id: 'history-total' });
  var canvas = el('canvas', { id: 'history-chart', role: 'img', 'aria-label': 'Page views over the chosen range' });
  var card = el('article', { class: 'card', id: 'history-card' }, [el('h2', {}, ['Page views over time ', status]), el('div', { class: 'chart' }, [canvas])]);
  var host = document.getElementById('history-panels');
  host.parentNode.insertBefore(bar, host);
  host.appendChild(card);

  function label(at, width) {
    var d = new Date(at);
    if (width >= 86400000) return d.toLocaleDateString([], { month: 'short', day: 'numeric', timeZone: 'UTC' });
    if (range.days === 1) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    return d.toLocaleDateString([], { weekday: 'short' }) + ' ' + d.toLocaleTimeString([], { hour: '2-digit', hourCycle: 'h23' }) + 'h';
  }

  function render(points) {
    var width = RANGES[range.days].bar;
    var groups = [];
    var at = {};
    var total = 0;
    points.forEach(function (p) {
      var key = Math.floor(Date.parse(p.at) / width) * width;
      if (!(key in at)) {
        at[key] = groups.length;
        groups.push({ at: key, count: 0 });
      }
      groups[at[key]].count += p.count;
      total += p.count;
    });
    status.textContent = P.num(total) + ' views';
    if (chart)
      chart.set(
        groups.map(function (g) {
          return label(g.at, width);
        }),
        groups.map(function (g) {
          return g.count;
        }),
      );
  }

  function load() {
    if (!api) return;
    var mine = ++seq;
    status.textContent = 'Loading…';
    api
      .query('query DashboardHistory($minutes: Int!) { pageViewSeries(minutes: $minutes) { at count } }', { minutes: RANGES[range.days].minutes })
      .then(function (d) {
        if (mine === seq) render(d.pageViewSeries);
      })
      .catch(function (err) {
        if (mine === seq) status.textContent = err.message;
      });
  }

  function select(days) {
    range.days = days;
    buttons.forEach(function (b) {
      b.setAttribute('aria-pressed', String(Number(b.getAttribute('data-days')) === days));
    });
    document.dispatchEvent(new CustomEvent('dashboard-range', { detail: { days: days } }));
    load();
  }

  buttons.forEach(function (b) {
    b.addEventListener('click', function () {
      select(Number(b.getAttribute('data-days')));
    });
  });

  P.add({
    start: function (a) {
      api = a;
      if (!chart && typeof Chart !== 'undefined') chart = DashboardCharts.bars(canvas, '#2f6fec', 'Page views');
      load();
    },
    stop: function () {
      api = null;
      seq++;
    },
  });
})();
