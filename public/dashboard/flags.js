// Feature flags: every flag with its switch and rollout, editable (the dashboard is for admins;
// the server checks the role of every change). Read with flagSettings over the dashboard's socket,
// read again whenever flagsUpdated says a flag changed on any instance; changes go through setFlag
// and deleteFlag. Keys are inserted as text, never as HTML.
(function () {
  'use strict';

  var SETTINGS = 'query DashboardFlags { flagSettings { key enabled rolloutPercent updatedAt } }';
  var UPDATED = 'subscription DashboardFlagsUpdated { flagsUpdated { key } }';
  var SET = 'mutation DashboardSetFlag($input: FlagInput!) { setFlag(input: $input) { key enabled rolloutPercent } }';
  var DELETE = 'mutation DashboardDeleteFlag($key: String!) { deleteFlag(key: $key) }';

  var api = null;

  function $(id) {
    return document.getElementById(id);
  }

  function say(message) {
    $('flags-error').textContent = message || '';
  }

  /** Runs a change over HTTP; the flagsUpdated push that follows redraws the table. */
  function change(query, variables) {
    say('');
    return api
      .post(query, variables)
      .then(function (body) {
        if (body.errors && body.errors.length) throw new Error(body.errors[0].message);
        // Redrawn at once too, in case this page's socket is reconnecting.
        load();
      })
      .catch(function (err) {
        say(err.message);
      });
  }

  function rolloutInput(value) {
    return api.el('input', { type: 'number', min: '0', max: '100', step: '1', value: String(value), class: 'rollout', 'aria-label': 'Rollout percent' });
  }

  function row(f) {
    var enabled = api.el('input', { type: 'checkbox', class: 'enabled', 'aria-label': 'Enabled' });
    enabled.checked = f.enabled;
    var rollout = rolloutInput(f.rolloutPercent);
    var save = api.el('button', { type: 'button', class: 'small save', text: 'Save' });
    var remove = api.el('button', { type: 'button', class: 'small link-danger delete', text: 'Delete' });
    var input = function () {
      return { key: f.key, enabled: enabled.checked, rolloutPercent: Number(rollout.value) };
    };
    enabled.addEventListener('change', function () {
      change(SET, { input: input() });
    });
    save.addEventListener('click', function () {
      change(SET, { input: input() });
    });
    remove.addEventListener('click', function () {
      change(DELETE, { key: f.key });
    });
    return api.el('tr', { 'data-key': f.key }, [
      api.el('td', { class: 'key', text: f.key, title: 'Updated ' + new Date(f.updatedAt).toLocaleString() }),
      api.el('td', {}, [enabled]),
      api.el('td', { class: 'num' }, [rollout, ' %']),
      api.el('td', { class: 'num' }, [save, ' ', remove]),
    ]);
  }

  function render(list) {
    var body = list.length ? list.map(row) : [api.el('tr', {}, [api.el('td', { colspan: '4', class: 'muted', text: 'No flags yet.' })])];
    api.replace($('flags-rows'), body);
  }

  function load() {
    api.listen(
      SETTINGS,
      function (d) {
        render(d.flagSettings);
      },
      function (errs) {
        api.unavailable($('flags'), errs);
      },
    );
  }

  function addForm() {
    var key = api.el('input', { type: 'text', id: 'flag-new-key', placeholder: 'new-flag-key', maxlength: '64', 'aria-label': 'Flag key' });
    var enabled = api.el('input', { type: 'checkbox', id: 'flag-new-enabled', 'aria-label': 'Enabled' });
    var rollout = rolloutInput(100);
    rollout.id = 'flag-new-rollout';
    var form = api.el('form', { class: 'flag-add', id: 'flag-add' }, [
      key,
      api.el('label', {}, [enabled, ' on']),
      rollout,
      ' % ',
      api.el('button', { type: 'submit', class: 'small', text: 'Set flag' }),
    ]);
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      change(SET, { input: { key: key.value.trim(), enabled: enabled.checked, rolloutPercent: Number(rollout.value) } }).then(function () {
        if (!$('flags-error').textContent) key.value = '';
      });
    });
    return form;
  }

  (window.DashboardPanels = window.DashboardPanels || []).push({
    start: function (dashboard) {
      api = dashboard;
      var table = api.el('table', { class: 'table' }, [
        api.el('thead', {}, [
          api.el(
            'tr',
            {},
            ['Flag', 'On', 'Rollout', ''].map(function (h, i) {
              return api.el('th', { class: i > 1 ? 'num' : '', text: h });
            }),
          ),
        ]),
        api.el('tbody', { id: 'flags-rows' }),
      ]);
      api.replace($('flags'), [table, addForm(), api.el('p', { id: 'flags-error', class: 'error', role: 'alert' })]);
      load();
      api.listen(UPDATED, load);
    },
  });
})();
