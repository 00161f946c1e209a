import packageJson from '../../package.json' with { type: 'json' };

/** Quarry's version, from package.json (bundled in at build time). */
export const QUARRY_VERSION: string = packageJson.version;
