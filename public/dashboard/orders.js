// The dashboard's Orders panel: the latest orders with their status, live, and a cancel button
// (with a confirmation) for orders still PENDING or PROCESSING. The list is read once (the
// admins' `orders` query) and on "Refresh"; each order that can still change is followed with
// `orderUpdated`, which completes by itself once the order is final. It registers itself with
// dashboard.js, which starts and stops it with the dashboard's session and socket.
(function () {
  'use strict';

  var LIMIT = 10;
  // The socket holds the dashboard's own subscriptions too: follow at most this many orders at once.
  var MAX_FOLLOWED = 8;
  var LIST = 'query DashboardOrders($limit: Int) { orders(limit: $limit) { id status totalCents currency createdAt items { quantity } } }';
  var WATCH = 'subscription DashboardOrder($id: ID!) { orderUpdated(id: $id) { id status } }';
  var CANCEL = 'mutation DashboardCancelOrder($id: ID!) { cancelOrder(id: $id) { id status } }';
  var OPEN = { PENDING: true, PROCESSING: true };

  var panel = { api: null, follows: {}, rows: {} };

  function $(id) {
    return document.getElementById(id);
  }

  function start(api) {
    panel.api = api;
    $('orders-refresh').onclick = refresh;
    refresh();
  }

  function stop() {
    Object.keys(panel.follows).forEach(function (id) {
      panel.follows[id]();
    });
    panel.follows = {};
    panel.rows = {};
    panel.api = null;
  }

  function refresh() {
    var api = panel.api;
    if (!api) return;
    api.post(LIST, { limit: LIMIT }).then(
      function (body) {
        if (panel.api !== api) return;
        if (!body.data || !body.data.orders) return unavailable(body.errors);
        render(body.data.orders);
      },
      function (err) {
        unavailable([err]);
      },
    );
  }

  function unavailable(errors) {
    var why = errors && errors[0] && errors[0].message ? errors[0].message : '';
    panel.api.replace($('orders'), [panel.api.el('div', { class: 'unavailable', title: why, text: 'Orders are not available on this server.' })]);
  }

  function render(orders) {
    var api = panel.api;
    Object.keys(panel.follows).forEach(function (id) {
      panel.follows[id]();
    });
    panel.follows = {};
    panel.rows = {};
    if (!orders.length) return api.replace($('orders'), [api.el('p', { class: 'muted', text: 'No orders yet.' })]);
    var body = api.el(
      'tbody',
      {},
      orders.map(function (o) {
        return row(o);
      }),
    );
    var head = api.el('thead', {}, [
      api.el(
        'tr',
        {},
        ['Order', 'Status', 'Units', 'Total', 'Placed', ''].map(function (h, i) {
          return api.el('th', { class: i === 2 || i === 3 ? 'num' : '', text: h });
        }),
      ),
    ]);
    api.replace($('orders'), [api.el('table', { class: 'table orders' }, [head, body])]);
    orders
      .filter(function (o) {
        return OPEN[o.status];
      })
      .slice(0, MAX_FOLLOWED)
      .forEach(function (o) {
        follow(o.id);
      });
  }

  function row(o) {
    var api = panel.api;
    var units = o.items.reduce(function (n, i) {
      return n + i.quantity;
    }, 0);
    var status = api.el('span', { class: 'tag order-status', 'data-status': o.status, text: o.status });
    var cancel = api.el('button', { type: 'button', class: 'link order-cancel', 'data-order': o.id, text: 'Cancel' });
    cancel.hidden = !OPEN[o.status];
    cancel.onclick = function () {
      onCancel(o, cancel);
    };
    var note = api.el('span', { class: 'error order-error' });
    var tr = api.el('tr', { 'data-order': o.id }, [
      api.el('td', { title: o.id }, [api.el('code', { text: o.id.slice(0, 8) })]),
      api.el('td', {}, [status]),
      api.el('td', { class: 'num', text: String(units) }),
      api.el('td', { class: 'num', text: api.money(o.totalCents) + ' ' + o.currency }),
      api.el('td', { text: api.time(new Date(o.createdAt)) }),
      api.el('td', {}, [cancel, note]),
    ]);
    panel.rows[o.id] = { status: status, cancel: cancel, note: note };
    return tr;
  }

  function setStatus(id, value) {
    var r = panel.rows[id];
    if (!r) return;
    r.status.textContent = value;
    r.status.setAttribute('data-status', value);
    r.cancel.hidden = !OPEN[value];
  }

  function follow(id) {
    panel.follows[id] = panel.api.subscribe(
      WATCH,
      { id: id },
      function (data) {
        setStatus(id, data.orderUpdated.status);
      },
      function () {
        delete panel.follows[id];
      },
    );
  }

  function onCancel(o, button) {
    var r = panel.rows[o.id];
    if (!window.confirm('Cancel order ' + o.id.slice(0, 8) + '? Its units go back to stock. This cannot be undone.')) return;
    button.disabled = true;
    r.note.textContent = '';
    panel.api
      .post(CANCEL, { id: o.id })
      .then(function (body) {
        var done = body.data && body.data.cancelOrder;
        if (done) return setStatus(o.id, done.status);
        r.note.textContent = (body.errors && body.errors[0] && body.errors[0].message) || 'Could not cancel.';
      })
      .catch(function (err) {
        r.note.textContent = err.message;
      })
      .then(function () {
        button.disabled = false;
      });
  }

  (window.DashboardPanels = window.DashboardPanels || []).push({ name: 'orders', start: start, stop: stop });
})();
