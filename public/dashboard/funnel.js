// Funnel builder: an ordered list of pages (2 to 10, each a path starting with "/"), run over the
// chosen range (history.js, at most 31 days) with `funnel`: visitors who reached each step after
// every earlier one, in order, with the share of the first step and the drop from the one before.
(function () {
  'use strict';

  var P = window.DashboardPanels;
  var el = P.el;
  var MAX_STEPS = 10;
  var QUERY = 'query DashboardFunnel($steps: [String!]!, $days: Int!) { funnel(steps: $steps, days: $days) { page visitors } }';
  var api = null;
  var seq = 0;
  var ran = false;

  var list = el('ol', { id: 'funnel-steps', class: 'funnel-steps' });
  var add = el('button', { type: 'button', id: 'funnel-add', class: 'link', text: '+ Add step' });
  var run = el('button', { type: 'submit', id: 'funnel-run', text: 'Show funnel' });
  var error = el('p', { id: 'funnel-error', class: 'error', role: 'alert' });
  var result = el('tbody', { id: 'funnel-result' });
  var status = el('small', { id: 'funnel-status' });
  var form = el('form', { id: 'funnel-form', class: 'funnel-form' }, [list, el('div', { class: 'funnel-actions' }, [add, run]), error]);
  var card = el('article', { class: 'card', id: 'funnel-card' }, [
    el('h2', {}, ['Funnel ', status]),
    form,
    el('table', { class: 'table' }, [
      el('thead', {}, [
        el('tr', {}, [
          el('th', { text: 'Step' }),
          el('th', { class: 'num', text: 'Visitors' }),
          el('th', { class: 'num', text: 'Of first' }),
          el('th', { class: 'num', text: 'Drop' }),
        ]),
      ]),
      result,
    ]),
  ]);
  document.getElementById('history-panels').appendChild(card);

  function addStep(value) {
    var input = el('input', { type: 'text', class: 'funnel-input', placeholder: '/path', 'aria-label': 'Page of this step', spellcheck: 'false' });
    input.value = value || '';
    var remove = el('button', { type: 'button', class: 'link funnel-remove', 'aria-label': 'Remove this step', text: '×' });
    var item = el('li', {}, [input, remove]);
    remove.addEventListener('click', function () {
      if (list.children.length > 2) list.removeChild(item);
      refresh();
    });
    list.appendChild(item);
    refresh();
    return input;
  }

  function refresh() {
    add.disabled = list.children.length >= MAX_STEPS;
  }

  function steps() {
    return Array.prototype.map.call(list.querySelectorAll('.funnel-input'), function (i) {
      return i.value.trim();
    });
  }

  function pct(x) {
    return (x * 100).toFixed(1) + '%';
  }

  function render(rows) {
    var first = rows.length ? rows[0].visitors : 0;
    P.replace(
      result,
      rows.map(function (r, i) {
        var prev = i ? rows[i - 1].visitors : r.visitors;
        var share = first ? r.visitors / first : 0;
        return el('tr', {}, [
          el('td', { class: 'bar', style: '--w:' + Math.round(share * 100) + '%', title: r.page }, [el('span', { text: i + 1 + '. ' + r.page })]),
          el('td', { class: 'num', text: P.num(r.visitors) }),
          el('td', { class: 'num', text: first ? pct(share) : '–' }),
          el('td', { class: 'num', text: i && prev ? '−' + pct((prev - r.visitors) / prev) : '–' }),
        ]);
      }),
    );
  }

  function load() {
    if (!api) return;
    var pages = steps();
    var bad = pages.filter(function (p) {
      return !/^\/\S*$/.test(p);
    });
    if (bad.length) {
      error.textContent = 'Each step is a page path starting with "/", without spaces.';
      return;
    }
    error.textContent = '';
    ran = true;
    var mine = ++seq;
    var days = Math.min(31, window.DashboardRange ? window.DashboardRange.days : 7);
    status.textContent = 'Loading…';
    api
      .query(QUERY, { steps: pages, days: days })
      .then(function (d) {
        if (mine !== seq) return;
        status.textContent = days === 1 ? 'today (UTC)' : 'last ' + days + ' days';
        render(d.funnel);
      })
      .catch(function (err) {
        if (mine !== seq) return;
        status.textContent = '';
        error.textContent = err.message;
      });
  }

  add.addEventListener('click', function () {
    if (list.children.length < MAX_STEPS) addStep('').focus();
  });
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    load();
  });
  document.addEventListener('dashboard-range', function () {
    if (ran) load();
  });
  addStep('/');
  addStep('/checkout');
  P.replace(result, [el('tr', {}, [el('td', { colspan: '4', class: 'muted', text: 'Enter the pages in order, then Show funnel.' })])]);

  P.add({
    start: function (a) {
      api = a;
    },
    stop: function () {
      api = null;
      seq++;
    },
  });
})();
