// ESM entry point: the same module as the CommonJS one (one copy of the addon, one state).
export * from './index.js';
