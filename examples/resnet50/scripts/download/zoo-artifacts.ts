import { fileURLToPath } from 'node:url';

export interface Artifact {
  /** File name inside the model folder. */
  file: string;
  url: string;
  /** Environment variable that replaces `url` (mirrors, tests against a local server). */
  urlEnv: string;
  sha256: string;
  size: number;
}

export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../model/', import.meta.url));

/**
 * The zoo stores the model with Git LFS, so the repo's raw URL serves only the pointer; the media
 * host serves the bytes. The size is what that URL answers with; the sha256 is the one that
 * independent projects pin for this file (see scripts/README.md for where both come from).
 */
export const RESNET50_V1_7: Artifact = {
  file: 'resnet50-v1-7.onnx',
  url: 'https://media.githubusercontent.com/media/onnx/models/main/validated/vision/classification/resnet/model/resnet50-v1-7.onnx',
  urlEnv: 'NODESERVE_RESNET50_MODEL_URL',
  sha256: 'af16a04a6ec48ac494065d4439fe9dea590d337b9ca6dc328160ccf04a217b9c',
  size: 102_583_340,
};

/** ImageNet-1k labels, one `nXXXXXXXX name, name…` line per class index (0-999). */
export const IMAGENET_SYNSET: Artifact = {
  file: 'synset.txt',
  url: 'https://raw.githubusercontent.com/onnx/models/main/validated/vision/classification/synset.txt',
  urlEnv: 'NODESERVE_RESNET50_LABELS_URL',
  sha256: 'acf75ef0abe89694b19056e0796401068b459c457baa30335f240c7692857355',
  size: 31_675,
};

export const ARTIFACTS = { model: RESNET50_V1_7, labels: IMAGENET_SYNSET } as const;
export type ArtifactKey = keyof typeof ARTIFACTS;
