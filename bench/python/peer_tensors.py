"""
Writes the tensors the peers' handler (../shared/peer-pipeline/imagenet_onnx.py) makes from each image:
its own preprocess_one (PIL decode, EXIF upright, bilinear resize, centre crop, normalise to CHW
float32), with no model loaded. One float32 file per image, [3, S, S] in C order, named after the
image; prints one JSON line naming them. nodeserve's bench compares its own tensors against these.

usage: python3 peer_tensors.py --peer-dir DIR --side 224 --out DIR IMAGE...
"""
import argparse, json, os, sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--peer-dir", required=True)
    p.add_argument("--side", type=int, default=224)
    p.add_argument("--out", required=True)
    p.add_argument("images", nargs="+")
    o = p.parse_args()
    sys.path.insert(0, o.peer_dir)
    import imagenet_onnx as h

    # The handler's geometry without a session: preprocess_one reads only crop and resize.
    handler = h.Classifier.__new__(h.Classifier)
    handler.crop = o.side
    handler.resize = h._js_round(o.side * 256 / 224)
    written = []
    for path in o.images:
        with open(path, "rb") as f:
            tensor = handler.preprocess_one(f.read())
        out = os.path.join(o.out, os.path.basename(path) + ".f32")
        tensor.astype("<f4").tofile(out)
        written.append({"image": path, "tensor": out, "shape": list(tensor.shape)})
    print(json.dumps({"tensors": written}))


if __name__ == "__main__":
    main()
