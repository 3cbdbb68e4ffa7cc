// ESM entry point: the same module as the CommonJS one (one copy of the addon, one state), with
// named exports and, for `import knobs from 'socket-knobs'`, the whole API as the default export.
import knobs from './index.js';

export * from './index.js';
export default knobs;
