// segment_sum after input (O0, tmu)
func.func @segment_sum(%features: memref<?x32xf32>, %src: memref<?xi32>, %dst: memref<?xi32>) -> (%out: memref<?x32xf32> {shape = [dim(features, 0), 32]}) attributes {level = "scf"} {
  %src_d0 = tensor.dim %src {axis = 0} : index
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  scf.for %e = %c0 to %src_d0 step %c1 {
    %u = memref.load %src, %e : index
    %v = memref.load %dst, %e : index
    scf.for %d = %c0 to %c32 step %c1 {
      %x = memref.load %features, %u, %d : f32
      %acc = memref.load %out, %v, %d : f32
      %sum = arith.addf %acc, %x : f32
      memref.store %sum, %out, %v, %d
    }
  }
}
