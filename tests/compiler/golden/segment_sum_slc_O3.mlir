// segment_sum after promote_accumulators (O3, tmu)
func.func @segment_sum(%features: memref<?x32xf32>, %src: memref<?xi32>, %dst: memref<?xi32>) -> (%out: memref<?x32xf32> {shape = [dim(features, 0), 32]}) attributes {level = "slc"} {
  %c16 = arith.constant 16 : index
  %src_d0 = tensor.dim %src {axis = 0} : index
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  slc.for %e = %c0 to %src_d0 step %c1 {
    %u = slc.mem_stream %src, %e : !slc.stream<index>
    %v = slc.mem_stream %dst, %e : !slc.stream<index>
    slc.for<16> %d = %c0 to %c32 step %c1 {
      %x = slc.mem_stream %features, %u, %d : !slc.stream<vector<16xf32>>
      %x_buf = slc.buf_stream %x : !slc.stream<buffer<?xf32>>
    }
    slc.callback {event = "end"} {
      %v_1 = slc.to_val %v : index
      %x_buf_1 = slc.to_val %x_buf : buffer<?xf32>
      %d_mask = vector.mask %c0, %c32 : vector<16xi1>
      %x_1 = buffer.load %x_buf_1, %c0, %d_mask : vector<16xf32>
      %acc = vector.load %out, %v_1, %c0, %d_mask : vector<16xf32>
      %sum = arith.addf %acc, %x_1 : vector<16xf32>
      vector.store %sum, %out, %v_1, %c0, %d_mask
      %d_mask_1 = vector.mask %c16, %c32 : vector<16xi1>
      %x_2 = buffer.load %x_buf_1, %c16, %d_mask_1 : vector<16xf32>
      %acc_1 = vector.load %out, %v_1, %c16, %d_mask_1 : vector<16xf32>
      %sum_1 = arith.addf %acc_1, %x_2 : vector<16xf32>
      vector.store %sum_1, %out, %v_1, %c16, %d_mask_1
    }
  }
}
