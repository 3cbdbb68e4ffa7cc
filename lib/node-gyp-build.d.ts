// node-gyp-build ships no types; this is the part socket-knobs uses.
declare module 'node-gyp-build' {
  function load(dir: string): any;
  namespace load {
    function resolve(dir: string): string;
  }
  export = load;
}
