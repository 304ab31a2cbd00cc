// `npm run openapi`: writes docs/openapi.json from the services' route definitions.
import { writeFile } from 'node:fs/promises';
import { documentPath, renderDocument } from './render';

renderDocument()
  .then((text) => writeFile(documentPath, text))
  .then(() => console.log(`wrote ${documentPath}`))
  .catch((err: Error) => {
    console.error(err.message);
    process.exitCode = 1;
  });
