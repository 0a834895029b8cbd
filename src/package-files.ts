import { fileURLToPath } from 'node:url';

/**
 * The package root, found by package resolution (package.json exports itself), so that the code
 * finds openapi.yaml and the compiled profiles the same way from src/ under tsx and from dist/.
 */
const PACKAGE_ROOT = new URL('.', import.meta.resolve('wor-bridge/package.json'));

/** Absolute path of a file shipped with the package, given relative to its root. */
export const packageFile = (path: string): string => fileURLToPath(new URL(path, PACKAGE_ROOT));
