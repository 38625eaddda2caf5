// The version `meshrev --version` prints (see src/api/build-info.ts).
export { COMMIT, VERSION, buildInfo, versionLine } from '../api/build-info.js';
