// Jest loads global setup outside its module mapper; tsx resolves the TypeScript sources for it.
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { default: setup } = await tsImport('./global-setup.ts', import.meta.url);
  await setup();
}
