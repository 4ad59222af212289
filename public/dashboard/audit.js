// The console's audit log panel: the newest admin actions (who, what, to what, when), from
// auditLog(limit), every 5 s while shown.
(function () {
  'use strict';

  var C = window.DashboardConsole;
  var el = C.el;
  var REFRESH_MS = 5000;
  var LIMIT = 100;
  var QUERY = 'query ConsoleAudit($limit: Int) { auditLog(limit: $limit) { at actor action target } }';

  var root = document.getElementById('panel-audit');
  var ui = null;
  var timer = null;

  function build() {
    ui = { notice: el('p', { class: 'notice', role: 'status' }), list: el('tbody', { id: 'audit-list' }) };
    C.replace(root, [
      ui.notice,
      el('article', { class: 'card' }, [
        el('h2', {}, ['Audit log ', el('small', { text: 'the newest ' + LIMIT + ' admin actions, from every instance' })]),
        el('table', { class: 'table audit-table' }, [
          el('thead', {}, [
            el(
              'tr',
              {},
              ['When', 'Who', 'Action', 'Target'].map(function (h) {
                return el('th', { text: h });
              }),
            ),
          ]),
          ui.list,
        ]),
      ]),
    ]);
  }

  function refresh() {
    return C.gql(QUERY, { limit: LIMIT })
      .then(function (d) {
        var rows = d.auditLog;
        if (!rows.length) return C.replace(ui.list, [el('tr', {}, [el('td', { colspan: '4', class: 'muted', text: 'No admin action recorded yet.' })])]);
        C.replace(
          ui.list,
          rows.map(function (e) {
            return el('tr', {}, [
              el('td', { class: 'when', text: C.when(e.at) }),
              el('td', { class: 'ident', text: e.actor }),
              el('td', { class: 'action', text: e.action }),
              el('td', { class: 'target', text: e.target }),
            ]);
          }),
        );
      })
      .catch(function (err) {
        C.say(ui.notice, 'error', 'Could not read the audit log: ' + err.message);
      });
  }

  C.register('audit', {
    show: function () {
      if (!ui) build();
      refresh();
      clearInterval(timer);
      timer = setInterval(refresh, REFRESH_MS);
    },
    hide: function () {
      clearInterval(timer);
      timer = null;
    },
  });
})();
