;; Pillow's bilinear resample of 8-bit images (libImaging/Resample.c, ImagingResampleHorizontal_8bpc
;; and ImagingResampleVertical_8bpc) in WebAssembly SIMD, the arithmetic of resample.ts: 22-bit
;; fixed-point weights, a rounding half added, the horizontal pass rounded to 8 bits before the
;; vertical one, results clamped to 0-255. All four bytes of a pixel go through one i32x4, so the
;; results are Pillow's, bit for bit. The caller (resample-simd.ts) lays out memory and computes
;; the weights; `npm run build:wasm -w @nodeserve/handler-sdk` turns this file into
;; resample-wasm.generated.ts.
(module
  (memory (export "memory") 1)

;; One horizontal pass: for `rows` source rows from `firstRow` on, `side` output pixels each, into
  ;; `dst` at 4 bytes a pixel (R, G, B and a byte to ignore). The source pixel at upright column u,
  ;; row v starts at origin + u*du + v*dv (byte offsets: negative steps mirror, swapped ones turn,
  ;; which applies an EXIF orientation without a copy); its 3 bytes are read as 4, so one byte past
  ;; the source must be readable. Output x reads hsize[x] pixels from column hstart[x] with the
  ;; weights at hw + 4*x*htaps. Rows go four at a time, sharing each weight and the loop's work (a
  ;; last group of fewer repeats its last row, which writes the same pixels twice).
  (func (export "horizontal")
    (param $origin i32) (param $du i32) (param $dv i32)
    (param $firstRow i32) (param $rows i32) (param $side i32)
    (param $hstart i32) (param $hsize i32) (param $hw i32) (param $htaps i32)
    (param $dst i32)
    (local $r i32) (local $x i32) (local $k i32) (local $n i32) (local $last i32)
    (local $row1 i32) (local $row2 i32) (local $row3 i32)
    (local $out1 i32) (local $out2 i32) (local $out3 i32) (local $outBytes i32)
    (local $rowBase i32) (local $p i32) (local $wp i32) (local $d i32)
    (local $w v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $widen v128)
    ;; Bytes 0-3 to the low byte of each i32 lane, zeros elsewhere (a swizzle index past 15 gives 0).
    (local.set $widen (v128.const i8x16 0 255 255 255 1 255 255 255 2 255 255 255 3 255 255 255))
    (local.set $outBytes (i32.shl (local.get $side) (i32.const 2)))
    (local.set $last (i32.sub (local.get $rows) (i32.const 1)))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_s (local.get $r) (local.get $rows)))
        ;; Rows r+1..r+3, as steps from row r, in the source and in the output (clamped to the last row).
        (local.set $row1 (i32.sub (select (i32.add (local.get $r) (i32.const 1)) (local.get $last) (i32.lt_s (i32.add (local.get $r) (i32.const 1)) (local.get $last))) (local.get $r)))
        (local.set $row2 (i32.sub (select (i32.add (local.get $r) (i32.const 2)) (local.get $last) (i32.lt_s (i32.add (local.get $r) (i32.const 2)) (local.get $last))) (local.get $r)))
        (local.set $row3 (i32.sub (select (i32.add (local.get $r) (i32.const 3)) (local.get $last) (i32.lt_s (i32.add (local.get $r) (i32.const 3)) (local.get $last))) (local.get $r)))
        (local.set $out1 (i32.mul (local.get $row1) (local.get $outBytes)))
        (local.set $out2 (i32.mul (local.get $row2) (local.get $outBytes)))
        (local.set $out3 (i32.mul (local.get $row3) (local.get $outBytes)))
        (local.set $row1 (i32.mul (local.get $row1) (local.get $dv)))
        (local.set $row2 (i32.mul (local.get $row2) (local.get $dv)))
        (local.set $row3 (i32.mul (local.get $row3) (local.get $dv)))
        (local.set $rowBase
          (i32.add (local.get $origin)
            (i32.mul (i32.add (local.get $firstRow) (local.get $r)) (local.get $dv))))
        (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $r) (local.get $outBytes))))
        (local.set $x (i32.const 0))
        (block $colsDone
          (loop $colLoop
            (br_if $colsDone (i32.ge_u (local.get $x) (local.get $side)))
            (local.set $p
              (i32.add (local.get $rowBase)
                (i32.mul
                  (i32.load (i32.add (local.get $hstart) (i32.shl (local.get $x) (i32.const 2))))
                  (local.get $du))))
            (local.set $n (i32.load (i32.add (local.get $hsize) (i32.shl (local.get $x) (i32.const 2)))))
            (local.set $wp
              (i32.add (local.get $hw) (i32.shl (i32.mul (local.get $x) (local.get $htaps)) (i32.const 2))))
            ;; 1 << (PRECISION_BITS - 1): the rounding half.
            (local.set $a0 (i32x4.splat (i32.const 2097152)))
            (local.set $a1 (local.get $a0))
            (local.set $a2 (local.get $a0))
            (local.set $a3 (local.get $a0))
            (local.set $k (i32.const 0))
            (block $tapsDone
              (loop $tapLoop
                (br_if $tapsDone (i32.ge_u (local.get $k) (local.get $n)))
                (local.set $w (i32x4.splat (i32.load (local.get $wp))))
                (local.set $a0 (i32x4.add (local.get $a0) (i32x4.mul (local.get $w)
                  (i8x16.swizzle (v128.load32_zero (local.get $p)) (local.get $widen)))))
                (local.set $a1 (i32x4.add (local.get $a1) (i32x4.mul (local.get $w)
                  (i8x16.swizzle (v128.load32_zero (i32.add (local.get $p) (local.get $row1))) (local.get $widen)))))
                (local.set $a2 (i32x4.add (local.get $a2) (i32x4.mul (local.get $w)
                  (i8x16.swizzle (v128.load32_zero (i32.add (local.get $p) (local.get $row2))) (local.get $widen)))))
                (local.set $a3 (i32x4.add (local.get $a3) (i32x4.mul (local.get $w)
                  (i8x16.swizzle (v128.load32_zero (i32.add (local.get $p) (local.get $row3))) (local.get $widen)))))
                (local.set $p (i32.add (local.get $p) (local.get $du)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $tapLoop)))
            ;; >> PRECISION_BITS, then saturating narrows clamp to 0-255 as clip8 does.
            (v128.store32_lane 0 (local.get $d)
              (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a0) (i32.const 22)) (local.get $a0)) (local.get $a0)))
            (v128.store32_lane 0 (i32.add (local.get $d) (local.get $out1))
              (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a1) (i32.const 22)) (local.get $a1)) (local.get $a1)))
            (v128.store32_lane 0 (i32.add (local.get $d) (local.get $out2))
              (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a2) (i32.const 22)) (local.get $a2)) (local.get $a2)))
            (v128.store32_lane 0 (i32.add (local.get $d) (local.get $out3))
              (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a3) (i32.const 22)) (local.get $a3)) (local.get $a3)))
            (local.set $d (i32.add (local.get $d) (i32.const 4)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $colLoop)))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $rowLoop))))

  ;; One vertical pass over the horizontal pass's rows (`rowBytes` each, starting at source row
  ;; `firstRow`): output row y sums vsize[y] rows from vstart[y] with the weights at vw + 4*y*vtaps,
  ;; 16 bytes at a time, into `dst` (`side` rows of `rowBytes`). A row whose length is not a
  ;; multiple of 16 is finished by a chunk that runs into the next row, which that row overwrites:
  ;; both buffers need 16 bytes of room at their end.
  (func (export "vertical")
    (param $src i32) (param $rowBytes i32) (param $side i32) (param $firstRow i32)
    (param $vstart i32) (param $vsize i32) (param $vw i32) (param $vtaps i32)
    (param $dst i32)
    (local $y i32) (local $i i32) (local $k i32) (local $n i32)
    (local $rowSrc i32) (local $wBase i32) (local $q i32) (local $wp i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $v v128) (local $w v128) (local $lo v128) (local $hi v128)
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $y) (local.get $side)))
        (local.set $rowSrc
          (i32.add (local.get $src)
            (i32.mul
              (i32.sub
                (i32.load (i32.add (local.get $vstart) (i32.shl (local.get $y) (i32.const 2))))
                (local.get $firstRow))
              (local.get $rowBytes))))
        (local.set $n (i32.load (i32.add (local.get $vsize) (i32.shl (local.get $y) (i32.const 2)))))
        (local.set $wBase
          (i32.add (local.get $vw) (i32.shl (i32.mul (local.get $y) (local.get $vtaps)) (i32.const 2))))
        (local.set $i (i32.const 0))
        (block $chunksDone
          (loop $chunkLoop
            (br_if $chunksDone (i32.ge_u (local.get $i) (local.get $rowBytes)))
            (local.set $a0 (i32x4.splat (i32.const 2097152)))
            (local.set $a1 (local.get $a0))
            (local.set $a2 (local.get $a0))
            (local.set $a3 (local.get $a0))
            (local.set $q (i32.add (local.get $rowSrc) (local.get $i)))
            (local.set $wp (local.get $wBase))
            (local.set $k (i32.const 0))
            (block $tapsDone
              (loop $tapLoop
                (br_if $tapsDone (i32.ge_u (local.get $k) (local.get $n)))
                (local.set $v (v128.load (local.get $q)))
                (local.set $w (i32x4.splat (i32.load (local.get $wp))))
                (local.set $lo (i16x8.extend_low_i8x16_u (local.get $v)))
                (local.set $hi (i16x8.extend_high_i8x16_u (local.get $v)))
                (local.set $a0 (i32x4.add (local.get $a0) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $lo)) (local.get $w))))
                (local.set $a1 (i32x4.add (local.get $a1) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $lo)) (local.get $w))))
                (local.set $a2 (i32x4.add (local.get $a2) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $hi)) (local.get $w))))
                (local.set $a3 (i32x4.add (local.get $a3) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $hi)) (local.get $w))))
                (local.set $q (i32.add (local.get $q) (local.get $rowBytes)))
                (local.set $wp (i32.add (local.get $wp) (i32.const 4)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $tapLoop)))
            (v128.store
              (i32.add (local.get $dst) (local.get $i))
              (i8x16.narrow_i16x8_u
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a0) (i32.const 22)) (i32x4.shr_s (local.get $a1) (i32.const 22)))
                (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a2) (i32.const 22)) (i32x4.shr_s (local.get $a3) (i32.const 22)))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $chunkLoop)))
        (local.set $dst (i32.add (local.get $dst) (local.get $rowBytes)))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $rowLoop))))
)
