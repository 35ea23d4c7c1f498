// segment_sum after slc_to_dlc (O3, tmu)
func.func @segment_sum(%features: memref<?x32xf32>, %src: memref<?xi32>, %dst: memref<?xi32>) -> (%out: memref<?x32xf32> {shape = [dim(features, 0), 32]}) attributes {level = "dlc"} {
  %c16 = arith.constant 16 : index
  %src_d0 = tensor.dim %src {axis = 0} : index
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  dlc.access {
    %tu0, %e = dlc.new_tu %c0, %src_d0 {parent = None, width = 1} : !dlc.tu, !slc.stream<index>
    %u = slc.mem_stream %src, %e {tu = 0} : !slc.stream<index>
    %v = slc.mem_stream %dst, %e {tu = 0} : !slc.stream<index>
    %tu1, %d = dlc.new_tu %c0, %c32 {parent = 0, width = 16} : !dlc.tu, !slc.stream<vector<16xindex>>
    %x = slc.mem_stream %features, %u, %d {tu = 1} : !slc.stream<vector<16xf32>>
    %x_buf = slc.buf_stream %x {tu = 1} : !slc.stream<buffer<?xf32>>
    dlc.register_operand %tu1, %v {event = "end"}
    dlc.register_operand %tu1, %x_buf {event = "end"}
    dlc.register_callback %tu1 {event = "end", id = 1}
  }
  dlc.compute {
    dlc.case {id = 1, tu = 1, event = "end"} {
      %v_1 = dlc.pop_operand : index
      %x_buf_1 = dlc.pop_operand : buffer<?xf32>
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
