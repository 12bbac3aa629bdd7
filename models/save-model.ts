// Saves a TF.js LayersModel to a folder exactly as `model.save("file://…")` lays it out.
import * as tf from "@tensorflow/tfjs";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Saves exactly what `model.save` writes: model.json plus one weights shard. */
export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weightsFile = "group1-shard1of1.bin";
    const json = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      weightsManifest: [{ paths: [weightsFile], weights: artifacts.weightSpecs }],
    };
    writeFileSync(join(dir, "model.json"), JSON.stringify(json));
    const data = artifacts.weightData as ArrayBuffer;
    writeFileSync(join(dir, weightsFile), new Uint8Array(data));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
  }));
}

