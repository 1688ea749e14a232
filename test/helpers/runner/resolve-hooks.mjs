// Module resolution hook for the runner's children: `import ... from 'uvu'` in the project's
// code gets uvu-marked.ts (uvu itself, plus start/outcome marks and suite-level skips), and
// '@roamhq/wrtc' gets wrtc-tracked.ts (peer connections left open are named and closed before
// exit). Everything else, the wrappers' own imports and node_modules included, resolves as usual.

const wrappers = {
  uvu: new URL('./uvu-marked.ts', import.meta.url).href,
  '@roamhq/wrtc': new URL('./wrtc-tracked.ts', import.meta.url).href,
};

export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL ?? '';
  const wrapper = Object.hasOwn(wrappers, specifier) ? wrappers[specifier] : null;
  if (wrapper && parent !== wrapper && !parent.includes('/node_modules/')) return nextResolve(wrapper, context);
  return nextResolve(specifier, context);
}
