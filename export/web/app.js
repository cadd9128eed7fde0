// ganzoo's browser demo: runs a zoo preset's ONNX generator with onnxruntime-web.
//
// The page reads a hub (default: the repository's zoo_configs/ next to this
// folder; `?hub=URL` picks another, e.g. a `ganzoo publish` folder): its
// index.txt lists the presets, `<name>.json` is the preset (its `onnx` entry
// names the ONNX file with its sha256 and size), `<file>.json` is that
// file's metadata sidecar (onnxruntime-web cannot read ONNX metadata_props).
// The generator has inputs z float32 [batch, latent_dim] and label int32
// [batch], and the output image uint8 [batch, H, W, C]. The page checks the
// file's size and, where the browser offers crypto.subtle (https, or
// localhost), its sha256 before running it.
//
// Noise: the page turns a seed into z with its own generator (mulberry32 and
// Box-Muller, below), so a seed here does not give the same z as NumPy's
// default_rng in Python. For the same z and labels, the pixels are the same
// as `ganzoo.export.OnnxGenerator.run` in Python (tests/test_web.py checks).
//
// The page needs http(s): opened as a file it says so. A hub on another
// origin than the page must answer with `Access-Control-Allow-Origin` (CORS);
// when a fetch fails the page says which of these applies. An empty Seed draws
// a random seed, and the status line names it so that it can be typed back.
//
// window.ganzoo is the page's API, used by the test and handy in the console:
//   await ganzoo.ready                         -> list of preset names (rejects when the page cannot start)
//   await ganzoo.load(name)                    -> metadata of the loaded preset (it becomes the current one)
//   await ganzoo.run(z, labels)                -> {pixels: Uint8Array, dims: [n, H, W, C]} from the current preset
//   ganzoo.draw(pixels, dims, nrow)            -> draws a grid on the canvas; returns its ImageData
//   ganzoo.noise(seed, n, latentDim)           -> Float32Array of n * latentDim N(0, 1) values
"use strict";

(function () {
  const PADDING = 2, PAD_VALUE = 128, MIN_CELL_PIXELS = 64; // as ganzoo.client.images.grid_array
  const params = new URLSearchParams(location.search);
  const hub = new URL(params.get("hub") || "../../zoo_configs/", location.href);
  if (!hub.pathname.endsWith("/")) hub.pathname += "/";
  const el = (id) => document.getElementById(id);
  const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/; // preset names, as ganzoo.client.presets allows them
  const cache = new Map(); // name -> Promise of {name, session, meta}
  let current = null; // the model the last load() resolved to
  let loads = 0; // a later load wins: an earlier one that ends last must not replace it

  function status(text, isError) {
    el("status").textContent = text;
    el("status").className = isError ? "error" : "";
  }

  // Why a fetch threw (the browser says only "Failed to fetch"), and what to do about it.
  function unreachable(url, kind, error) {
    const said = `${kind} ${url}: ${error.message || error}`;
    if (url.origin === location.origin) return `Could not read the ${said}. Is the server still running?`;
    return `Could not read the ${said}. The hub ${url.origin} is another origin than this page ` +
      `(${location.origin}), so the browser lets the page read it only if the hub answers with the header ` +
      `Access-Control-Allow-Origin (CORS); a hub that is down fails the same way. Serve the hub with the header ` +
      `"Access-Control-Allow-Origin: *", or serve the hub's folder from this page's server and pass ?hub= a path on it.`;
  }

  async function fetchOk(url, kind) {
    let response;
    try {
      response = await fetch(url);
    } catch (error) {
      throw new Error(unreachable(url, kind, error));
    }
    if (!response.ok) throw new Error(`${kind} ${url}: HTTP ${response.status}`);
    return response;
  }

  function checkMeta(meta, file) {
    const ok = meta && meta.format === "ganzoo-generator" && Number.isInteger(meta.latent_dim) && meta.latent_dim > 0 &&
      Array.isArray(meta.image_shape) && meta.image_shape.length === 3 &&
      meta.image_shape.every((d) => Number.isInteger(d) && d > 0) && meta.output_dtype === "uint8" &&
      (meta.num_classes === null || (Number.isInteger(meta.num_classes) && meta.num_classes >= 2)) &&
      (meta.class_names == null || (Array.isArray(meta.class_names) && meta.class_names.length === meta.num_classes));
    if (!ok) throw new Error(`Expected ${file}.json to be a ganzoo sidecar of a uint8 generator`);
    return meta;
  }

  async function checkFile(bytes, entry, file) {
    if (bytes.byteLength !== entry.size_bytes) {
      throw new Error(`Expected ${file} to be ${entry.size_bytes} bytes, as its preset says. Received: ${bytes.byteLength}`);
    }
    if (!globalThis.crypto || !crypto.subtle) return false; // plain http off localhost: no WebCrypto
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    if (hex !== entry.sha256) throw new Error(`Expected ${file} to have sha256 ${entry.sha256}. Received: ${hex}`);
    return true;
  }

  // mulberry32: a small 32-bit generator; Box-Muller turns pairs of uniforms into N(0, 1).
  function noise(seed, n, latentDim) {
    let a = seed >>> 0;
    const uniform = () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296; // in (0, 1)
    };
    const z = new Float32Array(n * latentDim);
    for (let i = 0; i < z.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(uniform())), theta = 2 * Math.PI * uniform();
      z[i] = r * Math.cos(theta);
      if (i + 1 < z.length) z[i + 1] = r * Math.sin(theta);
    }
    return z;
  }

  function load(name) {
    if (!NAME.test(name)) return Promise.reject(new Error(`Expected a preset name. Received: ${JSON.stringify(name)}`));
    const token = ++loads;
    if (!cache.has(name)) {
      const loading = (async () => {
        const preset = await (await fetchOk(new URL(`${name}.json`, hub), "preset")).json();
        const entry = preset && preset.onnx;
        if (!entry || typeof entry.file !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*\.onnx$/.test(entry.file)) {
          throw new Error(`Expected preset ${name} to publish an ONNX file (an "onnx" entry)`);
        }
        const meta = checkMeta(await (await fetchOk(new URL(`${entry.file}.json`, hub), "sidecar")).json(), entry.file);
        const bytes = await (await fetchOk(new URL(entry.file, hub), "model")).arrayBuffer();
        const verified = await checkFile(bytes, entry, entry.file);
        const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
        return { name, session, meta, verified };
      })();
      cache.set(name, loading);
      loading.catch(() => cache.delete(name)); // a failed load may be retried
    }
    status(`Loading ${name}...`);
    return cache.get(name).then((model) => {
      if (token === loads) {
        current = model;
        showModel(model);
      }
      return model.meta;
    });
  }

  function showModel(model) {
    const meta = model.meta;
    const labels = el("label");
    const keep = labels.value;
    labels.innerHTML = "";
    if (meta.num_classes !== null) {
      labels.add(new Option("one row of every class", "all"));
      for (let c = 0; c < meta.num_classes; c++) {
        const name = meta.class_names ? String(meta.class_names[c]) : String(c);
        labels.add(new Option(name === String(c) ? name : `${c}: ${name}`, String(c)));
      }
      if ([...labels.options].some((option) => option.value === keep)) labels.value = keep;
    }
    el("class-field").hidden = meta.num_classes === null;
    el("facts").textContent = `${model.name}: ${meta.variant || "?"}, latent_dim ${meta.latent_dim}, ` +
      `image ${meta.image_shape.join("x")}, ${meta.num_classes === null ? "unconditional" : meta.num_classes + " classes"}, ` +
      `ONNX opset ${meta.opset}, ganzoo ${meta.ganzoo_version}, ` +
      (model.verified ? "sha256 verified" : "size checked (sha256 needs https or localhost)");
  }

  async function run(z, labels, model = current) {
    if (!model) throw new Error("Expected a loaded preset: call ganzoo.load(name) first");
    const meta = model.meta;
    const n = z.length / meta.latent_dim;
    if (!Number.isInteger(n) || n < 1) throw new Error(`Expected z to hold n * ${meta.latent_dim} values`);
    const feeds = { z: new ort.Tensor("float32", Float32Array.from(z), [n, meta.latent_dim]) };
    if (meta.num_classes !== null) {
      if (!labels || labels.length !== n) throw new Error(`Expected ${n} labels`);
      for (const label of labels) {
        if (!Number.isInteger(label) || label < 0 || label >= meta.num_classes) {
          throw new Error(`Expected labels in [0, ${meta.num_classes})`);
        }
      }
      feeds.label = new ort.Tensor("int32", Int32Array.from(labels), [n]);
    }
    const output = (await model.session.run(feeds)).image;
    return { pixels: output.data, dims: output.dims.map(Number) };
  }

  function draw(pixels, dims, nrow) {
    const [n, h, w, c] = dims;
    const scale = Math.max(1, Math.ceil(MIN_CELL_PIXELS / Math.max(h, w)));
    const cols = Math.min(nrow, n), rows = Math.ceil(n / nrow);
    const ch = h * scale + PADDING, cw = w * scale + PADDING;
    const width = cols * cw + PADDING, height = rows * ch + PADDING;
    const canvas = el("grid");
    canvas.width = width;
    canvas.height = height;
    const image = new ImageData(width, height);
    image.data.fill(PAD_VALUE);
    for (let i = 3; i < image.data.length; i += 4) image.data[i] = 255;
    for (let k = 0; k < n; k++) {
      const top = Math.floor(k / cols) * ch + PADDING, left = (k % cols) * cw + PADDING;
      for (let y = 0; y < h * scale; y++) {
        for (let x = 0; x < w * scale; x++) {
          const src = ((k * h + Math.floor(y / scale)) * w + Math.floor(x / scale)) * c;
          const dst = ((top + y) * width + left + x) * 4;
          image.data[dst] = pixels[src];
          image.data[dst + 1] = pixels[src + (c === 3 ? 1 : 0)];
          image.data[dst + 2] = pixels[src + (c === 3 ? 2 : 0)];
        }
      }
    }
    canvas.getContext("2d").putImageData(image, 0, 0);
    return image;
  }

  async function generate() {
    try {
      const name = el("preset").value;
      await load(name);
      const model = current;
      if (model.name !== name) return; // another preset was picked meanwhile; its own generate() draws
      const meta = model.meta;
      const seedText = el("seed").value.trim(), random = seedText === "" && !el("seed").validity.badInput;
      const seed = random ? crypto.getRandomValues(new Uint32Array(1))[0] : Number(seedText || NaN);
      let n = Number(el("count").value);
      if (!Number.isInteger(seed) || seed < 0 || seed > 4294967295) {
        throw new Error("Expected a seed in [0, 4294967295], or an empty Seed for a random one");
      }
      if (!Number.isInteger(n) || n < 1 || n > 100) throw new Error("Expected 1 to 100 images");
      let labels = null, nrow = Math.ceil(Math.sqrt(n));
      if (meta.num_classes !== null) {
        const choice = el("label").value;
        labels = Array.from({ length: n }, (_, i) => (choice === "all" ? i % meta.num_classes : Number(choice)));
        if (choice === "all") nrow = meta.num_classes;
      }
      const started = performance.now();
      const { pixels, dims } = await run(noise(seed, n, meta.latent_dim), labels, model);
      draw(pixels, dims, nrow);
      const seedNote = random ? ` (random; type it in Seed to draw these again)` : "";
      status(`${name}: ${n} images, seed ${seed}${seedNote}, in ${(performance.now() - started).toFixed(0)} ms`);
    } catch (error) {
      status(String(error.message || error), true);
      clearGrid(); // the grid below an error would read as its result
      if (!current || current.name !== el("preset").value) {
        el("facts").textContent = ""; // the picked preset did not load: facts and classes of another would mislead
        el("class-field").hidden = true;
      }
    }
  }

  function clearGrid() {
    el("grid").width = 0;
    el("grid").height = 0;
  }

  async function start() {
    if (location.protocol === "file:") {
      throw new Error("this page was opened as a file, and browsers let a file:// page read no other file. " +
        "Serve it over http: run `python -m http.server` in the repository root and open " +
        "http://localhost:8000/export/web/");
    }
    if (typeof ort === "undefined") {
      throw new Error("onnxruntime-web did not load from node_modules/: run `npm ci --prefix export/web`");
    }
    ort.env.wasm.wasmPaths = new URL("node_modules/onnxruntime-web/dist/", location.href).href;
    ort.env.wasm.numThreads = 1; // a static server sends no COOP/COEP headers, so no shared memory
    const text = await (await fetchOk(new URL("index.txt", hub), "preset index")).text();
    const names = text.split("\n").map((line) => line.trim()).filter((line) => NAME.test(line));
    if (names.length === 0) throw new Error(`Expected the preset index ${new URL("index.txt", hub)} to list presets`);
    for (const name of names) el("preset").add(new Option(name, name));
    el("preset").addEventListener("change", generate);
    el("label").addEventListener("change", generate);
    el("generate").addEventListener("click", generate);
    el("controls").hidden = false;
    const wanted = params.get("preset");
    if (wanted && !names.includes(wanted)) {
      status(`Unknown preset ${JSON.stringify(wanted)} (?preset= in the address). This hub has: ${names.join(", ")}. ` +
        "Pick one above.", true);
      return names;
    }
    if (wanted) el("preset").value = wanted;
    await generate();
    return names;
  }

  const ready = start().catch((error) => {
    status(`Could not start: ${error.message || error}`, true);
    el("controls").hidden = true; // nothing to pick from and nothing to run
    clearGrid();
    throw error;
  });
  ready.catch(() => {}); // reported on the page above; ganzoo.ready still rejects for a caller that awaits it
  window.ganzoo = { ready, load, run, draw, noise };
})();
