// Boots GraphiQL against this gateway: HTTP for queries and mutations, graphql-ws for subscriptions.
// The session cookie rides along with both, so signing in with `login` in GraphiQL just works.
(function () {
  var wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/graphql';
  var fetcher = GraphiQL.createFetcher({
    url: location.origin + '/graphql',
    wsClient: graphqlWs.createClient({ url: wsUrl, lazy: true, retryAttempts: 5 }),
    headers: { 'apollo-require-preflight': 'true' },
  });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
      defaultQuery:
        '# Welcome to the gateway.\n# Try: mutation { startGuestSession { token session { id expiresAt } } }\n\nquery Me {\n  me { id email name roles }\n}\n',
    }),
  );
})();
