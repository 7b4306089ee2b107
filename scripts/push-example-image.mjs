// Builds the examples' image offline (a busybox-static rootfs: /bin/busybox plus applet links, /etc/passwd
// with root and user 1000) and pushes it to a registry on 127.0.0.1, so `crius run examples/*.yaml` needs
// no internet. Uses the image builder of the test helpers (built into dist/ by `npm run build`).
//   node scripts/push-example-image.mjs http://127.0.0.1:5055 crius/busybox latest
import { busyboxImage, pushImage } from '../dist/test/helpers/build-image.js';

const [url = 'http://127.0.0.1:5055', repo = 'crius/busybox', tag = 'latest'] = process.argv.slice(2);
const img = await busyboxImage('gzip', { Cmd: ['sh'], Env: ['PATH=/bin'] });
const digest = await pushImage({ url }, repo, tag, img);
console.log(`${url.replace(/^https?:\/\//, '')}/${repo}:${tag} ${digest}`);
