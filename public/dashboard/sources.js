// Sources panel: where visitors come from over the chosen range (history.js): referrer hosts,
// UTM sources and UTM campaigns, each with views and unique visitors, from `breakdown`.
(function () {
  'use strict';

  var P = window.DashboardPanels;
  var el = P.el;
  var QUERY =
    'query DashboardSources($days: Int!) { ' +
    'referrers: breakdown(dimension: REFERRER, days: $days, limit: 10) { value views uniqueVisitors } ' +
    'sources: breakdown(dimension: UTM_SOURCE, days: $days, limit: 10) { value views uniqueVisitors } ' +
    'campaigns: breakdown(dimension: UTM_CAMPAIGN, days: $days, limit: 10) { value views uniqueVisitors } }';
  var TABLES = [
    { key: 'referrers', id: 'sources-referrers', title: 'Referrer' },
    { key: 'sources', id: 'sources-utm-source', title: 'UTM source' },
    { key: 'campaigns', id: 'sources-utm-campaign', title: 'UTM campaign' },
  ];
  var api = null;
  var seq = 0;
  var status = el('small', { id: 'sources-status' });
  var bodies = {};
  var card = el(
    'article',
    { class: 'card', id: 'sources-card' },
    [el('h2', {}, ['Sources ', status])].concat(
      TABLES.map(function (t) {
        bodies[t.key] = el('tbody', { id: t.id });
        return el('table', { class: 'table' }, [
          el('thead', {}, [
            el('tr', {}, [el('th', { text: t.title }), el('th', { class: 'num', text: 'Views' }), el('th', { class: 'num', text: 'Visitors' })]),
          ]),
          bodies[t.key],
        ]);
      }),
    ),
  );
  document.getElementById('history-panels').appendChild(card);

  function rows(body, list) {
    if (!list.length) return P.replace(body, [el('tr', {}, [el('td', { colspan: '3', class: 'muted', text: 'Nothing in this range.' })])]);
    var max = list[0].views || 1;
    P.replace(
      body,
      list.map(function (r) {
        return el('tr', {}, [
          el('td', { class: 'bar', style: '--w:' + Math.round((r.views / max) * 100) + '%', title: r.value }, [el('span', { text: r.value })]),
          el('td', { class: 'num', text: P.num(r.views) }),
          el('td', { class: 'num', text: P.num(r.uniqueVisitors) }),
        ]);
      }),
    );
  }

  function load() {
    if (!api) return;
    var mine = ++seq;
    var days = window.DashboardRange ? window.DashboardRange.days : 7;
    status.textContent = 'Loading…';
    api
      .query(QUERY, { days: days })
      .then(function (d) {
        if (mine !== seq) return;
        status.textContent = days === 1 ? 'today (UTC)' : 'last ' + days + ' days';
        TABLES.forEach(function (t) {
          rows(bodies[t.key], d[t.key]);
        });
      })
      .catch(function (err) {
        if (mine === seq) status.textContent = err.message;
      });
  }

  document.addEventListener('dashboard-range', load);
  P.add({
    start: function (a) {
      api = a;
      load();
    },
    stop: function () {
      api = null;
      seq++;
    },
  });
})();
