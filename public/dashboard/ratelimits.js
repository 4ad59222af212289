// The console's rate-limit panel: every policy with the values in force (edit, or reset to
// the configured values), rejections per minute, top consumers, and blocked clients (block,
// unblock). Read from rateLimitPolicies and rateLimitOverview every 5 s while shown; every
// change goes through the admin mutations, which reach every gateway instance within a second.
(function () {
  'use strict';

  var C = window.DashboardConsole;
  var el = C.el;
  var REFRESH_MS = 5000;
  var MINUTES = 15;
  var Q = {
    read:
      'query ConsolePolicies { rateLimitPolicies { name points windowSeconds burst overridden configured { points windowSeconds burst } } ' +
      'rateLimitOverview(minutes: ' +
      MINUTES +
      ', limit: 10) { enabled topConsumers { identity points } topRejected { identity points } ' +
      'rejections { policy total perMinute { at count } } blocked { policy identity until } } }',
    set: 'mutation ConsoleSetPolicy($input: RateLimitPolicyInput!) { setRateLimitPolicy(input: $input) { name overridden } }',
    reset: 'mutation ConsoleResetPolicy($name: String!) { resetRateLimitPolicy(name: $name) { name overridden } }',
    block: 'mutation ConsoleBlock($identity: String!, $seconds: Int!) { blockClient(identity: $identity, seconds: $seconds) }',
    unblock: 'mutation ConsoleUnblock($identity: String!) { unblockClient(identity: $identity) }',
  };

  var root = document.getElementById('panel-ratelimits');
  var ui = null;
  var timer = null;
  var editing = null;
  var chart = null;

  function build() {
    ui = {
      notice: el('p', { class: 'notice', role: 'status' }),
      policies: el('tbody', { id: 'rl-policies' }),
      chart: el('canvas', { id: 'rl-rejections-chart', 'aria-label': 'Refused requests per minute', role: 'img' }),
      chartNote: el('p', { class: 'muted small' }),
      consumers: el('tbody', { id: 'rl-consumers' }),
      rejected: el('tbody', { id: 'rl-rejected' }),
      blocked: el('tbody', { id: 'rl-blocked' }),
      identity: el('input', { id: 'rl-block-identity', placeholder: 'ip:203.0.113.7, user:<id> or key:<id>', autocomplete: 'off', required: true }),
      seconds: el('input', { id: 'rl-block-seconds', type: 'number', min: '1', max: '2592000', value: '3600', required: true }),
    };
    var form = el('form', { id: 'rl-block-form', class: 'inline-form', on: { submit: onBlock } }, [
      el('label', {}, ['Identity ', ui.identity]),
      el('label', {}, ['Seconds ', ui.seconds]),
      el('button', { type: 'submit', id: 'rl-block', text: 'Block' }),
    ]);
    C.replace(root, [
      ui.notice,
      el('div', { class: 'console-grid' }, [
        el('article', { class: 'card wide' }, [
          el('h2', {}, ['Policies ', el('small', { text: 'values in force on every instance; edits apply within a second' })]),
          table(['Policy', 'Rate', 'Burst', 'Configured', ''], ui.policies, 'rl-policies-table'),
        ]),
        el('article', { class: 'card' }, [
          el('h2', {}, ['Refused requests ', el('small', { text: 'per minute, last ' + MINUTES + ' minutes, every instance' })]),
          el('div', { class: 'chart small' }, [ui.chart]),
          ui.chartNote,
        ]),
        el('article', { class: 'card' }, [el('h2', {}, ['Blocked clients']), form, table(['Identity', 'Until', ''], ui.blocked, 'rl-blocked-table')]),
        el('article', { class: 'card' }, [
          el('h2', {}, ['Top consumers ', el('small', { text: 'default-policy points' })]),
          table(['Identity', 'Points', ''], ui.consumers),
        ]),
        el('article', { class: 'card' }, [
          el('h2', {}, ['Most refused ', el('small', { text: 'refused requests' })]),
          table(['Identity', 'Refused', ''], ui.rejected),
        ]),
      ]),
    ]);
    if (typeof DashboardCharts !== 'undefined' && typeof Chart !== 'undefined') chart = DashboardCharts.bars(ui.chart, '#d64545', 'Refused');
  }

  function table(heads, body, id) {
    return el('table', { class: 'table', id: id }, [
      el('thead', {}, [
        el(
          'tr',
          {},
          heads.map(function (h, i) {
            return el('th', { class: i && h ? 'num' : '', text: h });
          }),
        ),
      ]),
      body,
    ]);
  }

  function rate(p) {
    return C.num(p.points) + ' / ' + seconds(p.windowSeconds);
  }
  function seconds(s) {
    if (s % 86400 === 0) return s / 86400 + ' d';
    if (s % 3600 === 0) return s / 3600 + ' h';
    if (s % 60 === 0) return s / 60 + ' min';
    return s + ' s';
  }

  function refresh() {
    return C.gql(Q.read)
      .then(render)
      .catch(function (err) {
        C.say(ui.notice, 'error', 'Could not read the rate limits: ' + err.message);
      });
  }

  function render(d) {
    renderPolicies(d.rateLimitPolicies);
    var o = d.rateLimitOverview;
    renderChart(o.rejections);
    renderTop(ui.consumers, o.topConsumers, 'No traffic counted in the last ' + MINUTES + ' minutes.');
    renderTop(ui.rejected, o.topRejected, 'Nothing refused in the last ' + MINUTES + ' minutes.');
    renderBlocked(o.blocked);
    if (!o.enabled) C.say(ui.notice, 'error', 'Rate limits are off on this instance (RATE_LIMIT_DEFAULT=off).');
  }

  function renderPolicies(list) {
    // An edit in progress is not redrawn under the operator's hands.
    if (editing) return;
    if (!list.length) return C.replace(ui.policies, [emptyRow(5, 'No policies: rate limits are off on this instance.')]);
    C.replace(
      ui.policies,
      list.map(function (p) {
        var c = p.configured;
        return el('tr', { 'data-policy': p.name, class: p.overridden ? 'overridden' : '' }, [
          el('td', {}, [el('b', { text: p.name }), p.overridden ? el('span', { class: 'tag tag-override', text: 'overridden' }) : null]),
          el('td', { class: 'num rate', text: rate(p) }),
          el('td', { class: 'num burst', text: C.num(p.burst) }),
          el('td', { class: 'num muted', text: rate(c) + ', burst ' + C.num(c.burst) }),
          el('td', { class: 'num actions' }, [
            el('button', {
              type: 'button',
              class: 'secondary edit',
              text: 'Edit',
              on: {
                click: function () {
                  return edit(p);
                },
              },
            }),
            p.overridden
              ? el('button', {
                  type: 'button',
                  class: 'secondary reset',
                  text: 'Reset',
                  on: {
                    click: function () {
                      return reset(p.name);
                    },
                  },
                })
              : null,
          ]),
        ]);
      }),
    );
  }

  function edit(p) {
    editing = p.name;
    var row = ui.policies.querySelector('tr[data-policy="' + CSS.escape(p.name) + '"]');
    var field = function (name, value, max) {
      return el('input', { name: name, type: 'number', min: '1', max: String(max), value: String(value), required: true, class: 'small-input' });
    };
    var points = field('points', p.points, 1000000);
    var windowSeconds = field('windowSeconds', p.windowSeconds, 604800);
    var burst = field('burst', p.burst, 1000000);
    var form = el('form', { class: 'inline-form edit-form' }, [
      el('label', {}, ['Points ', points]),
      el('label', {}, ['per seconds ', windowSeconds]),
      el('label', {}, ['Burst ', burst]),
      el('button', { type: 'submit', class: 'save', text: 'Save' }),
      el('button', {
        type: 'button',
        class: 'secondary cancel',
        text: 'Cancel',
        on: {
          click: function () {
            return done();
          },
        },
      }),
    ]);
    function done() {
      editing = null;
      refresh();
    }
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var input = { name: p.name, points: Number(points.value), windowSeconds: Number(windowSeconds.value), burst: Number(burst.value) };
      C.gql(Q.set, { input: input })
        .then(function () {
          C.say(
            ui.notice,
            'ok',
            'Policy ' + p.name + ' is now ' + input.points + ' per ' + seconds(input.windowSeconds) + ', burst ' + input.burst + ' on every instance.',
          );
          done();
        })
        .catch(function (err) {
          C.say(ui.notice, 'error', err.message);
        });
    });
    C.replace(row, [el('td', {}, [el('b', { text: p.name })]), el('td', { colspan: '4' }, [form])]);
    points.focus();
  }

  function reset(name) {
    C.gql(Q.reset, { name: name })
      .then(function () {
        C.say(ui.notice, 'ok', 'Policy ' + name + ' is back to its configured values.');
        return refresh();
      })
      .catch(function (err) {
        C.say(ui.notice, 'error', err.message);
      });
  }

  function renderChart(series) {
    var byMinute = {};
    var total = 0;
    series.forEach(function (s) {
      total += s.total;
      s.perMinute.forEach(function (m) {
        byMinute[m.at] = (byMinute[m.at] || 0) + m.count;
      });
    });
    var minutes = Object.keys(byMinute).sort();
    ui.chartNote.textContent = total
      ? C.num(total) +
        ' refused: ' +
        series
          .map(function (s) {
            return s.policy + ' ' + C.num(s.total);
          })
          .join(', ')
      : 'Nothing refused in the last ' + MINUTES + ' minutes.';
    if (!chart) return;
    chart.set(
      minutes.map(function (m) {
        return new Date(m).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
      }),
      minutes.map(function (m) {
        return byMinute[m];
      }),
    );
  }

  function renderTop(body, list, empty) {
    if (!list.length) return C.replace(body, [emptyRow(3, empty)]);
    C.replace(
      body,
      list.map(function (x) {
        return el('tr', {}, [
          el('td', { class: 'ident', text: x.identity }),
          el('td', { class: 'num', text: C.num(x.points) }),
          el('td', { class: 'num' }, [
            el('button', {
              type: 'button',
              class: 'secondary',
              text: 'Block…',
              on: {
                click: function () {
                  return prefill(x.identity);
                },
              },
            }),
          ]),
        ]);
      }),
    );
  }

  function prefill(identity) {
    ui.identity.value = identity;
    ui.seconds.focus();
  }

  function renderBlocked(list) {
    var blocks = list.filter(function (b) {
      return b.policy === 'blocklist';
    });
    if (!blocks.length) return C.replace(ui.blocked, [emptyRow(3, 'No client is blocked.')]);
    C.replace(
      ui.blocked,
      blocks.map(function (b) {
        return el('tr', { 'data-identity': b.identity }, [
          el('td', { class: 'ident', text: b.identity }),
          el('td', { class: 'num', text: b.until ? C.when(b.until) : 'always (RATE_LIMIT_BLOCK)' }),
          el('td', { class: 'num' }, [
            b.until
              ? el('button', {
                  type: 'button',
                  class: 'secondary unblock',
                  text: 'Unblock',
                  on: {
                    click: function () {
                      return unblock(b.identity);
                    },
                  },
                })
              : null,
          ]),
        ]);
      }),
    );
  }

  function onBlock(ev) {
    ev.preventDefault();
    var identity = ui.identity.value.trim();
    var secs = Number(ui.seconds.value);
    C.gql(Q.block, { identity: identity, seconds: secs })
      .then(function () {
        C.say(ui.notice, 'ok', identity + ' is blocked for ' + seconds(secs) + ' on every instance.');
        ui.identity.value = '';
        return refresh();
      })
      .catch(function (err) {
        C.say(ui.notice, 'error', err.message);
      });
  }

  function unblock(identity) {
    C.gql(Q.unblock, { identity: identity })
      .then(function (d) {
        C.say(ui.notice, 'ok', d.unblockClient ? identity + ' is unblocked.' : identity + ' was not blocked any more.');
        return refresh();
      })
      .catch(function (err) {
        C.say(ui.notice, 'error', err.message);
      });
  }

  function emptyRow(cols, text) {
    return el('tr', {}, [el('td', { colspan: String(cols), class: 'muted', text: text })]);
  }

  C.register('ratelimits', {
    show: function () {
      if (!ui) build();
      refresh();
      clearInterval(timer);
      timer = setInterval(refresh, REFRESH_MS);
    },
    hide: function () {
      clearInterval(timer);
      timer = null;
      editing = null;
    },
  });
})();
