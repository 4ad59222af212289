// The console's jobs panel: counts by state, the jobs of one state (type, attempts, data,
// error), and the dead letters in bulk: retry or purge every FAILED job, or those of one type,
// each after a confirmation. Read from queueStats and jobs(state) every 3 s while shown.
(function () {
  'use strict';

  var C = window.DashboardConsole;
  var el = C.el;
  var REFRESH_MS = 3000;
  var LIMIT = 50;
  var STATES = ['WAITING', 'DELAYED', 'ACTIVE', 'COMPLETED', 'FAILED'];
  var KNOWN_TYPES = ['email.send', 'webhook.deliver', 'order.process'];
  var Q = {
    read:
      'query ConsoleJobs($state: JobState!, $limit: Int) { queueStats { waiting delayed active completed failed } ' +
      'jobs(state: $state, limit: $limit) { id type state attempts maxAttempts data error createdAt finishedAt } ' +
      'failedTypes: jobs(state: FAILED, limit: 500) { type } }',
    retry: 'mutation ConsoleRetryFailed($type: String) { retryFailedJobs(type: $type) }',
    purge: 'mutation ConsolePurgeFailed($type: String) { purgeFailedJobs(type: $type) }',
  };

  var root = document.getElementById('panel-jobs');
  var ui = null;
  var timer = null;
  var state = 'FAILED';

  function build() {
    ui = {
      notice: el('p', { class: 'notice', role: 'status' }),
      counts: el('div', { id: 'jobs-counts', class: 'counts state-tabs' }),
      list: el('tbody', { id: 'jobs-list' }),
      listTitle: el('span', { text: '' }),
      type: el('select', { id: 'jobs-type', 'aria-label': 'Job type' }),
      actions: el('div', { id: 'jobs-actions', class: 'dead-letters' }),
    };
    C.replace(ui.actions, [
      el('span', { class: 'muted', text: 'Dead letters:' }),
      ui.type,
      el('button', {
        type: 'button',
        id: 'jobs-retry',
        text: 'Retry failed…',
        on: {
          click: function () {
            return bulk('retry');
          },
        },
      }),
      el('button', {
        type: 'button',
        id: 'jobs-purge',
        class: 'danger',
        text: 'Purge failed…',
        on: {
          click: function () {
            return bulk('purge');
          },
        },
      }),
    ]);
    C.replace(root, [
      ui.notice,
      el('article', { class: 'card' }, [
        el('h2', {}, ['Queue ', el('small', { text: 'jobs by state, every instance; choose a state to list its jobs' })]),
        ui.counts,
      ]),
      el('article', { class: 'card' }, [
        el('h2', {}, [ui.listTitle]),
        ui.actions,
        el('table', { class: 'table jobs-table' }, [
          el('thead', {}, [
            el(
              'tr',
              {},
              ['Job', 'Type', 'Attempts', 'Data', 'Error', 'Created', 'Finished'].map(function (h) {
                return el('th', { text: h });
              }),
            ),
          ]),
          ui.list,
        ]),
      ]),
    ]);
    typeOptions([]);
  }

  function typeOptions(seen) {
    var chosen = ui.type.value;
    var types = KNOWN_TYPES.concat(seen).filter(function (t, i, all) {
      return all.indexOf(t) === i;
    });
    C.replace(
      ui.type,
      [el('option', { value: '', text: 'every type' })].concat(
        types.map(function (t) {
          return el('option', { value: t, text: t });
        }),
      ),
    );
    ui.type.value = types.indexOf(chosen) >= 0 ? chosen : '';
  }

  function refresh() {
    return C.gql(Q.read, { state: state, limit: LIMIT })
      .then(render)
      .catch(function (err) {
        C.say(ui.notice, 'error', 'Could not read the queue: ' + err.message);
      });
  }

  function render(d) {
    var q = d.queueStats;
    C.replace(
      ui.counts,
      STATES.map(function (s) {
        var n = q[s.toLowerCase()];
        return el(
          'button',
          {
            type: 'button',
            class: 'count' + (s === state ? ' active' : '') + (s === 'FAILED' && n > 0 ? ' failed' : ''),
            'data-state': s,
            on: {
              click: function () {
                return choose(s);
              },
            },
          },
          [el('b', { text: C.num(n) }), el('span', { text: s.toLowerCase() })],
        );
      }),
    );
    ui.listTitle.textContent = state.charAt(0) + state.slice(1).toLowerCase() + ' jobs';
    ui.actions.hidden = state !== 'FAILED';
    typeOptions(
      d.failedTypes.map(function (j) {
        return j.type;
      }),
    );
    if (!d.jobs.length) return C.replace(ui.list, [el('tr', {}, [el('td', { colspan: '7', class: 'muted', text: 'No ' + state.toLowerCase() + ' jobs.' })])]);
    C.replace(
      ui.list,
      d.jobs.map(function (j) {
        var data = JSON.stringify(j.data);
        return el('tr', { 'data-job': j.id }, [
          el('td', { class: 'ident', text: j.id }),
          el('td', { text: j.type }),
          el('td', { class: 'num attempts', text: j.attempts + ' / ' + j.maxAttempts }),
          el('td', { class: 'data' }, [el('code', { title: data.slice(0, 2000), text: data.length > 120 ? data.slice(0, 120) + '…' : data })]),
          el('td', { class: 'err', text: j.error || '' }),
          el('td', { class: 'when', text: C.when(j.createdAt) }),
          el('td', { class: 'when', text: C.when(j.finishedAt) }),
        ]);
      }),
    );
  }

  function choose(s) {
    state = s;
    refresh();
  }

  function bulk(action) {
    var type = ui.type.value || null;
    var what = (type ? type + ' ' : '') + 'job';
    var question = action === 'retry' ? 'Move every FAILED ' + what + ' back to waiting, with fresh attempts?' : 'Delete every FAILED ' + what + ' for good?';
    C.confirmIn(ui.actions, question, action === 'retry' ? 'Retry them' : 'Delete them').then(function (yes) {
      if (!yes) return;
      C.gql(action === 'retry' ? Q.retry : Q.purge, { type: type })
        .then(function (d) {
          var n = action === 'retry' ? d.retryFailedJobs : d.purgeFailedJobs;
          var done = action === 'retry' ? 'moved back to waiting' : 'deleted';
          C.say(
            ui.notice,
            'ok',
            C.num(n) + ' failed ' + what + (n === 1 ? '' : 's') + ' ' + done + '.' + (n >= 10000 ? ' More may be left: run it again.' : ''),
          );
          return refresh();
        })
        .catch(function (err) {
          C.say(ui.notice, 'error', err.message);
        });
    });
  }

  C.register('jobs', {
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
