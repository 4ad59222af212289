// Devices panel: device classes (desktop, mobile, tablet, bot) and browser families over the
// chosen range (history.js), with views and unique visitors, from `breakdown`. Bots have views
// and no visitors.
(function () {
  'use strict';

  var P = window.DashboardPanels;
  var el = P.el;
  var QUERY =
    'query DashboardDevices($days: Int!) { ' +
    'devices: breakdown(dimension: DEVICE, days: $days, limit: 4) { value views uniqueVisitors } ' +
    'browsers: breakdown(dimension: BROWSER, days: $days, limit: 10) { value views uniqueVisitors } }';
  var TABLES = [
    { key: 'devices', id: 'devices-device', title: 'Device' },
    { key: 'browsers', id: 'devices-browser', title: 'Browser' },
  ];
  var api = null;
  var seq = 0;
  var status = el('small', { id: 'devices-status' });
  var bodies = {};
  var card = el(
    'article',
    { class: 'card', id: 'devices-card' },
    [el('h2', {}, ['Devices and browsers ', status])].concat(
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
    var total = list.reduce(function (s, r) {
      return s + r.views;
    }, 0);
    P.replace(
      body,
      list.map(function (r) {
        var share = Math.round((r.views / Math.max(1, total)) * 100);
        return el('tr', {}, [
          el('td', { class: 'bar', style: '--w:' + share + '%', title: share + '% of views' }, [el('span', { text: r.value })]),
          el('td', { class: 'num', text: P.num(r.views) }),
          el('td', { class: 'num', text: r.value === 'bot' ? '–' : P.num(r.uniqueVisitors) }),
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
