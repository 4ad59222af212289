// The live dashboard: signs in with the login mutation, then listens over one
// graphql-ws connection. Everything after the first paint arrives through
// subscriptions (liveStats, analyticsEvents, queueStatsUpdated, rateLimitRejected);
// nothing polls. Panels whose subscription the server refuses say so. Panels in files of
// their own push { start(api), stats(snapshot), stop() } onto window.DashboardPanels.
(function () {
  'use strict';

  var STATS =
    'at totalPageViews totalConversions totalRevenueCents uniqueVisitors trackedPages ' +
    'topPages(limit: 10) { page views uniqueVisitors } conversionsByType { type conversions revenueCents } viewsPerMinute { at count } ' +
    'experiments { key control status winner stoppedAt totalExposures unattributedConversions sampleRatioMismatch sampleRatioPValue warnings ' +
    'variants { name weight exposures conversions conversionRate upliftVsControl pValue chanceToBeatControl significant revenueCents ' +
    'revenuePerVisitor revenuePValue revenueSignificant } }';
  var QUERIES = {
    initial: 'query DashboardInitial { analytics { ' + STATS + ' } }',
    live: 'subscription DashboardLive { liveStats { ' + STATS + ' } }',
    events: 'subscription DashboardEvents { analyticsEvents { type page visitorId conversionType valueCents experiment at } }',
    queue: 'subscription DashboardQueue { queueStatsUpdated { waiting active delayed completed failed } }',
    rejections: 'subscription DashboardRejections { rateLimitRejected { policy identity operation transport retryAfter at } }',
  };
  var MAX_EVENTS = 12;
  var MAX_REJECTIONS = 6;

  var state = { token: null, client: null, stops: [], charts: {}, rejections: [], rejectionMinutes: {}, rejectionTotal: 0, eventTimes: [] };
  var panels = (window.DashboardPanels = window.DashboardPanels || []);

  function $(id) {
    return document.getElementById(id);
  }

  /** Builds an element; children are nodes or strings (always text, never HTML). */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'style') node.setAttribute('style', attrs[k]);
      else if (k === 'text') node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  function replace(node, children) {
    node.textContent = '';
    children.forEach(function (c) {
      node.appendChild(c);
    });
  }

  var nf = new Intl.NumberFormat();
  function num(n) {
    return nf.format(n);
  }
  function money(cents) {
    return (cents / 100).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function pct(x, digits) {
    return (x * 100).toFixed(digits === undefined ? 1 : digits) + '%';
  }
  function hhmm(d) {
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  }
  function hhmmss(d) {
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  }

  // ---- HTTP: sign-in and sign-out only.
  function post(query, variables) {
    var headers = { 'content-type': 'application/json' };
    if (state.token) headers.authorization = 'Bearer ' + state.token;
    return fetch('/graphql', {
      method: 'POST',
      headers: headers,
      credentials: 'same-origin',
      body: JSON.stringify({ query: query, variables: variables || {} }),
    }).then(function (res) {
      return res.json();
    });
  }

  function isAdmin(user) {
    return Boolean(user && user.roles && user.roles.indexOf('ADMIN') >= 0);
  }

  function showLogin(message) {
    $('dash').hidden = true;
    $('login').hidden = false;
    $('signout').hidden = true;
    $('who').textContent = '';
    $('login-error').textContent = message || '';
    setStatus('off', 'Offline');
  }

  function onSubmit(ev) {
    ev.preventDefault();
    $('signin').disabled = true;
    $('login-error').textContent = '';
    post('mutation DashboardLogin($input: LoginInput!) { login(input: $input) { token user { email roles } } }', {
      input: { email: $('email').value, password: $('password').value },
    })
      .then(function (body) {
        var login = body.data && body.data.login;
        if (!login) throw new Error((body.errors && body.errors[0] && body.errors[0].message) || 'Sign-in failed');
        if (!isAdmin(login.user)) {
          state.token = login.token;
          return post('mutation { logout }').then(function () {
            state.token = null;
            throw new Error('This account is not an admin.');
          });
        }
        state.token = login.token;
        $('password').value = '';
        start(login.user.email);
      })
      .catch(function (err) {
        $('login-error').textContent = err.message;
      })
      .then(function () {
        $('signin').disabled = false;
      });
  }

  function signOut() {
    stop();
    post('mutation { logout }')
      .catch(function () {})
      .then(function () {
        state.token = null;
        showLogin('Signed out.');
      });
  }

  // ---- The subscription connection.
  function setStatus(kind, text) {
    var s = $('status');
    s.className = 'pill pill-' + kind;
    s.textContent = text;
  }

  function connect() {
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/graphql';
    return graphqlWs.createClient({
      url: url,
      // Without a token the upgrade request carries the HttpOnly session cookie instead.
      connectionParams: state.token ? { authorization: 'Bearer ' + state.token } : undefined,
      lazy: false,
      retryAttempts: 1e9,
      shouldRetry: function (ev) {
        return !(ev && (ev.code === 4403 || ev.code === 4401));
      },
      on: {
        connected: function () {
          setStatus('on', 'Live');
        },
        closed: function (ev) {
          if (ev && (ev.code === 4403 || ev.code === 4401)) {
            stop();
            state.token = null;
            showLogin('Your session ended. Sign in again.');
          } else if (state.client) {
            setStatus('wait', 'Reconnecting…');
          }
        },
      },
    });
  }

  /** Runs one operation; `onData` gets each result's data; `onRefused` the errors when the server refuses it. */
  function listen(query, onData, onRefused) {
    var stopFn = state.client.subscribe(
      { query: query },
      {
        next: function (result) {
          if (result.errors && result.errors.length && !result.data) return onRefused && onRefused(result.errors);
          if (result.data) onData(result.data);
        },
        error: function (err) {
          if (Array.isArray(err) && onRefused) onRefused(err);
        },
        complete: function () {},
      },
    );
    state.stops.push(stopFn);
  }

  // ---- Panels in files of their own register here: scripts loaded before this one push onto
  // window.DashboardPanels (stopped-experiments.js, flags.js), those loaded after call
  // DashboardPanels.add (history.js, sources.js, devices.js, funnel.js). Each one's start(api) runs
  // once signed in, stats(snapshot) at each live snapshot, and stop() at sign-out; api.query runs
  // one query over the page's socket and resolves with its data (rejects with the first error).
  var panelApi = {
    query: function (query, variables) {
      return new Promise(function (resolve, reject) {
        if (!state.client) return reject(new Error('Not connected'));
        var result = null;
        state.client.subscribe(
          { query: query, variables: variables || {} },
          {
            next: function (r) {
              result = r;
            },
            error: function (err) {
              var first = Array.isArray(err) ? err[0] : err;
              reject(new Error((first && first.message) || 'The request failed'));
            },
            complete: function () {
              if (result && result.errors && result.errors.length) reject(new Error(result.errors[0].message));
              else resolve(result ? result.data : null);
            },
          },
        );
      });
    },
  };
  panels.add = function (panel) {
    panels.push(panel);
    if (state.client && panel.start) panel.start(panelApi);
  };
  panels.el = el;
  panels.replace = replace;
  panels.num = num;

  function start(email) {
    $('login').hidden = true;
    $('dash').hidden = false;
    $('signout').hidden = false;
    $('who').textContent = email || '';
    setStatus('wait', 'Connecting…');
    ensureCharts();
    state.client = connect();
    listen(
      QUERIES.initial,
      function (d) {
        renderStats(d.analytics);
      },
      function (errs) {
        unavailable($('experiments'), errs);
      },
    );
    listen(QUERIES.live, function (d) {
      renderStats(d.liveStats);
    });
    listen(QUERIES.events, function (d) {
      addEvent(d.analyticsEvents);
    });
    listen(
      QUERIES.queue,
      function (d) {
        renderQueue(d.queueStatsUpdated);
      },
      function (errs) {
        unavailable($('queue'), errs);
      },
    );
    listen(
      QUERIES.rejections,
      function (d) {
        addRejection(d.rateLimitRejected);
      },
      function (errs) {
        unavailable($('rejections'), errs);
        $('rejections-card').querySelector('.chart').hidden = true;
      },
    );
    renderRejectionChart();
    // Local only: slides the rejection chart's minutes along; nothing is fetched.
    state.clock = setInterval(renderRejectionChart, 30000);
    panelApi.listen = listen;
    panelApi.post = post;
    panelApi.el = el;
    panelApi.replace = replace;
    panelApi.num = num;
    panelApi.money = money;
    panelApi.pct = pct;
    panelApi.pValue = pValue;
    panelApi.unavailable = unavailable;
    panelApi.time = hhmmss;
    /** One operation with variables over the dashboard's socket; returns its stop function. */
    panelApi.subscribe = function (query, variables, onData, onEnd) {
      return state.client.subscribe(
        { query: query, variables: variables },
        {
          next: function (result) {
            if (result.data) onData(result.data);
          },
          error: function () {
            if (onEnd) onEnd();
          },
          complete: function () {
            if (onEnd) onEnd();
          },
        },
      );
    };
    panels.forEach(function (p) {
      if (p.start) p.start(panelApi);
    });
  }

  function stop() {
    clearInterval(state.clock);
    panels.forEach(function (p) {
      if (p.stop) p.stop();
    });
    state.stops.forEach(function (s) {
      s();
    });
    state.stops = [];
    if (state.client) {
      var c = state.client;
      state.client = null;
      c.dispose();
    }
  }

  function unavailable(node, errors) {
    var why = errors && errors[0] && errors[0].message ? errors[0].message : '';
    replace(node, [el('div', { class: 'unavailable', title: why, text: 'Not available on this server.' })]);
  }

  // ---- Rendering.
  function ensureCharts() {
    if (state.charts.views || typeof Chart === 'undefined') return;
    state.charts.views = DashboardCharts.bars($('views-chart'), '#2f6fec', 'Page views');
    state.charts.rejections = DashboardCharts.bars($('rejections-chart'), '#d64545', 'Rejections');
  }

  function renderStats(s) {
    if (!s) return;
    $('kpi-views').textContent = num(s.totalPageViews);
    $('kpi-uniques').textContent = num(s.uniqueVisitors);
    $('kpi-conversions').textContent = num(s.totalConversions);
    $('kpi-revenue').textContent = money(s.totalRevenueCents);
    var minutes = s.viewsPerMinute || [];
    $('kpi-minute').textContent = minutes.length ? num(minutes[minutes.length - 1].count) : '–';
    $('kpi-updated').textContent = hhmmss(new Date(s.at));
    if (state.charts.views) {
      state.charts.views.set(
        minutes.map(function (p) {
          return hhmm(new Date(p.at));
        }),
        minutes.map(function (p) {
          return p.count;
        }),
      );
    }
    renderTopPages(s.topPages, s.trackedPages);
    renderConversions(s.conversionsByType, s.totalConversions, s.totalRevenueCents);
    renderExperiments(s.experiments);
    panels.forEach(function (p) {
      if (p.stats) p.stats(s);
    });
  }

  function renderTopPages(pages, tracked) {
    $('pages-count').textContent = tracked ? num(tracked) + ' pages' : '';
    var max = pages.length ? pages[0].views : 1;
    if (!pages.length) return replace($('top-pages'), [el('tr', {}, [el('td', { colspan: '3', class: 'muted', text: 'No page views yet.' })])]);
    replace(
      $('top-pages'),
      pages.map(function (p) {
        return el('tr', {}, [
          el('td', { class: 'bar', style: '--w:' + Math.round((p.views / max) * 100) + '%', title: p.page }, [el('span', { text: p.page })]),
          el('td', { class: 'num', text: num(p.views) }),
          el('td', { class: 'num', text: num(p.uniqueVisitors) }),
        ]);
      }),
    );
  }

  function renderConversions(types, total, revenue) {
    if (!types.length) return replace($('conversions'), [el('tr', {}, [el('td', { colspan: '3', class: 'muted', text: 'No conversions yet.' })])]);
    var rows = types.map(function (c) {
      return el('tr', {}, [
        el('td', { class: 'bar', style: '--w:' + Math.round((c.conversions / Math.max(1, total)) * 100) + '%' }, [el('span', { text: c.type })]),
        el('td', { class: 'num', text: num(c.conversions) }),
        el('td', { class: 'num', text: money(c.revenueCents) }),
      ]);
    });
    rows.push(
      el('tr', {}, [
        el('td', {}, [el('b', { text: 'Total' })]),
        el('td', { class: 'num' }, [el('b', { text: num(total) })]),
        el('td', { class: 'num' }, [el('b', { text: money(revenue) })]),
      ]),
    );
    replace($('conversions'), rows);
  }

  function pValue(p) {
    if (p === null || p === undefined) return '–';
    return p < 0.001 ? '<0.001' : p.toFixed(3);
  }

  function renderExperiments(all) {
    // Stopped ones have a panel of their own (stopped-experiments.js).
    var list = (all || []).filter(function (x) {
      return x.status !== 'STOPPED';
    });
    if (!list.length)
      return replace($('experiments'), [el('p', { class: 'muted', text: 'No running experiments. Create one with the createExperiment mutation.' })]);
    replace(
      $('experiments'),
      list.slice(0, 4).map(function (x) {
        var head = el('h3', {}, [x.key, el('small', { text: num(x.totalExposures) + ' exposures · control ' + x.control })]);
        var table = el('table', { class: 'table' }, [
          el('thead', {}, [
            el(
              'tr',
              {},
              ['Variant', 'Split', 'Exposed', 'Converted', 'Rate', 'Uplift', 'p-value', 'P(beats control)', 'Revenue / visitor', 'p (revenue)'].map(
                function (h, i) {
                  return el('th', { class: i ? 'num' : '', text: h });
                },
              ),
            ),
          ]),
          el(
            'tbody',
            {},
            x.variants.map(function (v) {
              var uplift = v.upliftVsControl === null ? '–' : (v.upliftVsControl >= 0 ? '+' : '') + pct(v.upliftVsControl);
              return el('tr', {}, [
                el('td', { text: v.name }),
                el('td', { class: 'num', text: pct(v.weight, 0) }),
                el('td', { class: 'num', text: num(v.exposures) }),
                el('td', { class: 'num', text: num(v.conversions) }),
                el('td', { class: 'num', text: pct(v.conversionRate, 2) }),
                el('td', { class: 'num' + (v.upliftVsControl < 0 ? ' neg' : ''), text: uplift }),
                el('td', { class: 'num' + (v.significant ? ' sig' : ''), text: pValue(v.pValue) + (v.significant ? ' ✓' : '') }),
                el('td', { class: 'num', text: v.chanceToBeatControl === null ? '–' : pct(v.chanceToBeatControl) }),
                el('td', { class: 'num', text: money(v.revenuePerVisitor) }),
                el('td', { class: 'num' + (v.revenueSignificant ? ' sig' : ''), text: pValue(v.revenuePValue) + (v.revenueSignificant ? ' ✓' : '') }),
              ]);
            }),
          ),
        ]);
        var warnings = x.warnings.map(function (w) {
          return el('div', { class: 'warning' + (/^Sample ratio mismatch/.test(w) ? ' srm' : ''), text: w });
        });
        return el('div', { class: 'experiment' }, [head, table].concat(warnings));
      }),
    );
  }

  function addEvent(e) {
    var list = $('events');
    var empty = list.querySelector('.empty');
    if (empty) empty.remove();
    var isView = e.type === 'PAGE_VIEW';
    var what = isView ? e.page : e.conversionType + (e.valueCents ? ' · ' + money(e.valueCents) : '') + (e.experiment ? ' · ' + e.experiment : '');
    list.insertBefore(
      el('li', { title: e.visitorId || '' }, [
        el('span', { class: 'time', text: hhmmss(new Date(e.at)) }),
        el('span', { class: 'tag ' + (isView ? 'tag-view' : 'tag-conv'), text: isView ? 'view' : 'conversion' }),
        el('span', { class: 'what', text: what || '' }),
      ]),
      list.firstChild,
    );
    while (list.children.length > MAX_EVENTS) list.removeChild(list.lastChild);
    var now = Date.now();
    state.eventTimes.push(now);
    while (state.eventTimes.length && state.eventTimes[0] < now - 10000) state.eventTimes.shift();
    $('events-rate').textContent = (state.eventTimes.length / 10).toFixed(1) + ' / s';
  }

  function renderQueue(q) {
    replace(
      $('queue'),
      ['waiting', 'active', 'delayed', 'completed', 'failed'].map(function (k) {
        return el('div', { class: 'count' + (k === 'failed' && q[k] > 0 ? ' failed' : '') }, [el('b', { text: num(q[k]) }), el('span', { text: k })]);
      }),
    );
  }

  function addRejection(r) {
    state.rejectionTotal++;
    var minute = Math.floor(new Date(r.at).getTime() / 60000);
    state.rejectionMinutes[minute] = (state.rejectionMinutes[minute] || 0) + 1;
    state.rejections.unshift(r);
    state.rejections.length = Math.min(state.rejections.length, MAX_REJECTIONS);
    $('rejections-total').textContent = num(state.rejectionTotal) + ' since opened';
    replace(
      $('rejections'),
      state.rejections.map(function (x) {
        return el('li', { title: x.identity }, [
          el('span', { class: 'time', text: hhmmss(new Date(x.at)) }),
          el('span', { class: 'tag tag-reject', text: x.policy }),
          el('span', { class: 'what', text: x.operation + ' · ' + x.identity + ' · retry ' + x.retryAfter + 's' }),
        ]);
      }),
    );
    renderRejectionChart();
  }

  function renderRejectionChart() {
    if (!state.charts.rejections) return;
    var now = Math.floor(Date.now() / 60000);
    var labels = [];
    var values = [];
    for (var m = now - 14; m <= now; m++) {
      labels.push(hhmm(new Date(m * 60000)));
      values.push(state.rejectionMinutes[m] || 0);
    }
    state.charts.rejections.set(labels, values);
    if (!state.rejections.length) replace($('rejections'), [el('li', { class: 'muted empty', text: 'No rejections since the page opened.' })]);
  }

  // ---- Boot: an existing session cookie signs in without the form.
  $('login-form').addEventListener('submit', onSubmit);
  $('signout').addEventListener('click', signOut);
  post('{ me { email roles } }')
    .then(function (body) {
      var me = body.data && body.data.me;
      if (isAdmin(me)) start(me.email);
      else showLogin();
    })
    .catch(function () {
      showLogin();
    });
})();
