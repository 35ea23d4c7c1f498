// segment_sum after decoupling (O0, tmu)
func.func @segment_sum(%features: memref<?x32xf32>, %src: memref<?xi32>, %dst: memref<?xi32>) -> (%out: memref<?x32xf32> {shape = [dim(features, 0), 32]}) attributes {level = "slc"} {
  %src_d0 = tensor.dim %src {axis = 0} : index
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  slc.for %e = %c0 to %src_d0 step %c1 {
    %u = slc.mem_stream %src, %e : !slc.stream<index>
    %v = slc.mem_stream %dst, %e : !slc.stream<index>
    slc.for %d = %c0 to %c32 step %c1 {
      %x = slc.mem_stream %features, %u, %d : !slc.stream<f32>
      slc.callback {event = "ite"} {
        %v_1 = slc.to_val %v : index
        %d_1 = slc.to_val %d : index
        %x_1 = slc.to_val %x : f32
        %acc = memref.load %out, %v_1, %d_1 : f32
        %sum = arith.addf %acc, %x_1 : f32
        memref.store %sum, %out, %v_1, %d_1
      }
    }
  }
}
