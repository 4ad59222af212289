/** The GraphiQL page: every asset from /assets on this gateway, subscriptions over graphql-ws on /graphql. */
export const GRAPHIQL_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>GraphiQL · Gateway</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/assets/graphiql.css">
  <style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="/assets/react.js"></script>
  <script src="/assets/react-dom.js"></script>
  <script src="/assets/graphql-ws.js"></script>
  <script src="/assets/graphiql.js"></script>
  <script src="/assets/graphiql-init.js"></script>
</body>
</html>
`;
