// Stopped experiments, apart from the running ones: the winner every visitor now gets, when the
// experiment stopped, and its results as they were at the stop. Fed by the dashboard's liveStats
// snapshots (experiments carry status, winner and stoppedAt); nothing of its own is fetched.
(function () {
  'use strict';

  var api = null;

  function byStop(a, b) {
    return Date.parse(b.stoppedAt) - Date.parse(a.stoppedAt);
  }

  function render(list) {
    var node = document.getElementById('stopped-experiments');
    if (!node) return;
    var stopped = (list || [])
      .filter(function (x) {
        return x.status === 'STOPPED';
      })
      .sort(byStop);
    if (!stopped.length) return api.replace(node, [api.el('p', { class: 'muted', text: 'No stopped experiments.' })]);
    api.replace(
      node,
      stopped.slice(0, 6).map(function (x) {
        // Stopped without a winner: every visitor gets the control.
        var served = x.winner || x.control;
        var head = api.el('h3', {}, [
          x.key,
          api.el('span', { class: 'winner', text: 'winner: ' + served + (x.winner ? '' : ' (control, none named)') }),
          api.el('small', { text: 'stopped ' + new Date(x.stoppedAt).toLocaleString() + ' · ' + api.num(x.totalExposures) + ' exposures' }),
        ]);
        var table = api.el('table', { class: 'table' }, [
          api.el('thead', {}, [
            api.el(
              'tr',
              {},
              ['Variant', 'Exposed', 'Rate', 'p-value', 'Revenue / visitor', 'p (revenue)'].map(function (h, i) {
                return api.el('th', { class: i ? 'num' : '', text: h });
              }),
            ),
          ]),
          api.el(
            'tbody',
            {},
            x.variants.map(function (v) {
              return api.el('tr', { class: v.name === served ? 'served' : '' }, [
                api.el('td', { text: v.name + (v.name === served ? ' ★' : '') }),
                api.el('td', { class: 'num', text: api.num(v.exposures) }),
                api.el('td', { class: 'num', text: api.pct(v.conversionRate, 2) }),
                api.el('td', { class: 'num' + (v.significant ? ' sig' : ''), text: api.pValue(v.pValue) }),
                api.el('td', { class: 'num', text: api.money(v.revenuePerVisitor) }),
                api.el('td', { class: 'num' + (v.revenueSignificant ? ' sig' : ''), text: api.pValue(v.revenuePValue) }),
              ]);
            }),
          ),
        ]);
        return api.el('div', { class: 'experiment stopped' }, [head, table]);
      }),
    );
  }

  (window.DashboardPanels = window.DashboardPanels || []).push({
    start: function (dashboard) {
      api = dashboard;
    },
    stats: function (snapshot) {
      render(snapshot.experiments);
    },
  });
})();
