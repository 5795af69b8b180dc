// Plain JavaScript on purpose: any Node runs this far. Lading's sources are TypeScript that Node
// runs by stripping types, and an older Node (the machines' default is 20) fails on the first .ts
// import with ERR_UNKNOWN_FILE_EXTENSION and a stack trace that tells a user nothing.
import { pathToFileURL } from 'node:url';

export const REQUIRED_NODE_MAJOR = 24;

/** Exits 1 with one line saying which Node is needed and how to get it, when this one is older. */
export function requireNode() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= REQUIRED_NODE_MAJOR) return;
  process.stderr.write(
    `Lading needs Node.js ${REQUIRED_NODE_MAJOR} or newer, not ${process.version}: start it with npm (npm start, npm test; ` +
      `npm install puts Node ${REQUIRED_NODE_MAJOR} in node_modules/.bin), or install Node ${REQUIRED_NODE_MAJOR} LTS.\n`,
  );
  process.exit(1);
}

// `node bin/require-node.js` (npm test runs it first): only the check.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) requireNode();
