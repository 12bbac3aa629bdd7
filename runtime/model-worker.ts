// The entry file of the thread behind runtime/worker-model.ts (dist/runtime/model-worker.js): serves one blob.
import { parentPort } from "node:worker_threads";
import { serveModelWorker } from "./model-worker-serve.js";

if (parentPort) serveModelWorker(parentPort);
