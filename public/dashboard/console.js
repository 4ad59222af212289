// The operator's console: tabs between the dashboard's panels (the analytics view of
// dashboard.js, and one file per operator panel), plus what those panels share: GraphQL
// over HTTP with the session cookie that sign-in set, DOM helpers that only ever write
// text, and an inline confirmation. A panel registers itself with
// `DashboardConsole.register(name, { show(), hide() })`; it is shown when its tab is chosen
// (the tab is kept in the address's #fragment) and hidden when another is, or at sign-out.
(function () {
  'use strict';

  var panels = {};
  var current = null;
  var signedIn = false;

  function $(id) {
    return document.getElementById(id);
  }

  /** Builds an element; children are nodes or strings (always text, never HTML). */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'text') node.textContent = v;
      else if (k === 'on')
        Object.keys(v).forEach(function (ev) {
          node.addEventListener(ev, v[ev]);
        });
      else node.setAttribute(k, v === true ? '' : v);
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  function replace(node, children) {
    node.textContent = '';
    children.forEach(function (c) {
      if (c) node.appendChild(c);
    });
  }

  /** Runs one operation; resolves with its data, rejects with an Error carrying the first error's message and code. */
  function gql(query, variables) {
    return fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify({ query: query, variables: variables || {} }),
    })
      .then(function (res) {
        return res.json();
      })
      .then(function (body) {
        if (body.errors && body.errors.length) {
          var e = body.errors[0];
          var err = new Error(e.message || 'Request failed');
          err.code = e.extensions && e.extensions.code;
          throw err;
        }
        return body.data;
      });
  }

  var nf = new Intl.NumberFormat();
  function num(n) {
    return nf.format(n);
  }
  function when(iso) {
    if (!iso) return '–';
    var d = new Date(iso);
    return d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  }

  /**
   * Asks before a destructive action, inline in `host`: `question` with a confirm button
   * (`label`) and Cancel. Resolves true when confirmed.
   */
  function confirmIn(host, question, label) {
    return new Promise(function (resolve) {
      var bar;
      function done(yes) {
        bar.remove();
        resolve(yes);
      }
      bar = el('div', { class: 'confirm', role: 'alertdialog' }, [
        el('span', { text: question }),
        el('button', {
          type: 'button',
          class: 'danger confirm-yes',
          text: label,
          on: {
            click: function () {
              done(true);
            },
          },
        }),
        el('button', {
          type: 'button',
          class: 'secondary confirm-no',
          text: 'Cancel',
          on: {
            click: function () {
              return done(false);
            },
          },
        }),
      ]);
      var old = host.querySelector('.confirm');
      if (old) old.remove();
      host.appendChild(bar);
      bar.querySelector('.confirm-yes').focus();
    });
  }

  /** A status line for a panel's last action: `kind` is 'ok' or 'error'. */
  function say(node, kind, text) {
    node.className = 'notice notice-' + kind;
    node.textContent = text;
  }

  function names() {
    return Array.prototype.map.call(document.querySelectorAll('#console-nav [data-panel]'), function (b) {
      return b.getAttribute('data-panel');
    });
  }

  function show(name) {
    if (names().indexOf(name) < 0) name = 'analytics';
    if (current && current !== name && panels[current] && panels[current].hide) panels[current].hide();
    current = name;
    names().forEach(function (n) {
      // A panel is its section, or the parts marked as its (the analytics view of dashboard.js).
      var parts = document.querySelectorAll('#panel-' + n + ', [data-panel-part="' + n + '"]');
      Array.prototype.forEach.call(parts, function (part) {
        part.hidden = n !== name;
      });
      var tab = document.querySelector('#console-nav [data-panel="' + n + '"]');
      tab.classList.toggle('active', n === name);
      tab.setAttribute('aria-current', n === name ? 'page' : 'false');
    });
    if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
    if (signedIn && panels[name] && panels[name].show) panels[name].show();
  }

  function register(name, panel) {
    panels[name] = panel;
    if (signedIn && current === name && panel.show) panel.show();
  }

  document.getElementById('console-nav').addEventListener('click', function (ev) {
    var tab = ev.target.closest('[data-panel]');
    if (tab) show(tab.getAttribute('data-panel'));
  });

  // dashboard.js shows #dash once an admin is signed in and hides it at sign-out: the panels follow.
  new MutationObserver(function () {
    var now = !$('dash').hidden;
    if (now === signedIn) return;
    signedIn = now;
    if (signedIn) show(location.hash.slice(1) || 'analytics');
    else if (current && panels[current] && panels[current].hide) panels[current].hide();
  }).observe($('dash'), { attributes: true, attributeFilter: ['hidden'] });

  window.DashboardConsole = {
    register: register,
    show: show,
    gql: gql,
    el: el,
    replace: replace,
    num: num,
    when: when,
    confirmIn: confirmIn,
    say: say,
  };
})();
