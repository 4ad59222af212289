/** Writes schema/schema.graphql from the code. Run by `npm run schema`. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildGatewaySchema, renderSchema } from '../src/app/schema';
import { projectRoot } from '../src/util/paths';

void buildGatewaySchema().then((schema) => {
  const file = path.join(projectRoot(), 'schema', 'schema.graphql');
  writeFileSync(file, renderSchema(schema));
  console.log(`wrote ${file}`);
});
