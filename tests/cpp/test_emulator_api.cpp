// The VART-ML emulator's API surface (docs/emulator.md): enum values and to_string, the plain structs
// and handles, and NpuTensor: allocation, sub-tensors, wrapped user pointers, print_info.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "emu_test_helpers.hpp"

namespace vart_emu_test {
namespace {

// ---- API surface -----------------------------------------------------------------------------------

TEST(Api, EnumValuesFollowTheNewestHeaders) {
  static_assert(static_cast<int>(DataType::UNKNOWN) == 0 && static_cast<int>(DataType::BF16) == 6 &&
                static_cast<int>(DataType::FLOAT32) == 10 && static_cast<int>(DataType::UINT64) == 12);
  static_assert(static_cast<int>(MemoryLayout::NWC) == 5 && static_cast<int>(MemoryLayout::NH2HWC4C) == 17 &&
                static_cast<int>(MemoryLayout::NH2C4HWC) == 18 && static_cast<int>(MemoryLayout::GENERIC) == 19);
  static_assert(static_cast<int>(MemoryType::XRT_BO) == 1 && static_cast<int>(MemoryType::USER_POINTER_NON_CMA) == 4);
  static_assert(static_cast<int>(TensorType::CPU) == 0 && static_cast<int>(TensorType::HW) == 1);
  static_assert(static_cast<int>(TensorDirection::OUTPUT) == 1);
  static_assert(static_cast<int>(StatusCode::JOB_PENDING) == 6 && static_cast<int>(StatusCode::INVALID_JOB_ID) == 7 &&
                static_cast<int>(StatusCode::RESOURCE_UNAVAILABLE) == 8 &&
                static_cast<int>(StatusCode::UNSUPPORTED) == 9);
  static_assert(static_cast<int>(vart::RoundingMode::ROUND_TOWARD_ZERO) == 2);
  static_assert(static_cast<int>(vart::RunnerType::VAIML) == 0);
}

TEST(Api, ToStringSpellsEnumerators) {
  EXPECT_EQ(vart::to_string(DataType::FLOAT32), "FLOAT32");
  EXPECT_EQ(vart::to_string(DataType::UINT64), "UINT64");
  EXPECT_EQ(vart::to_string(MemoryLayout::NH2C4HWC), "NH2C4HWC");
  EXPECT_EQ(vart::to_string(MemoryLayout::GENERIC), "GENERIC");
  EXPECT_EQ(vart::to_string(MemoryType::XRT_BO), "XRT_BO");
  EXPECT_EQ(vart::to_string(TensorDirection::OUTPUT), "OUTPUT");
  EXPECT_EQ(vart::to_string(TensorType::HW), "HW");
  EXPECT_EQ(vart::to_string(vart::RoundingMode::ROUND_TO_NEAREST_EVEN), "ROUND_TO_NEAREST_EVEN");
  EXPECT_EQ(vart::to_string(StatusCode::RESOURCE_UNAVAILABLE), "RESOURCE_UNAVAILABLE");
  EXPECT_EQ(vart::to_string(StatusCode::UNSUPPORTED), "UNSUPPORTED");
  EXPECT_EQ(vart::to_string(static_cast<StatusCode>(42)), "UNKNOWN");
  EXPECT_EQ(vart::to_string(static_cast<DataType>(-1)), "UNKNOWN");
}

TEST(Api, StructsAndHandles) {
  const NpuTensorInfo i{"x",    DataType::INT8, TensorDirection::OUTPUT, TensorType::CPU, MemoryLayout::NC, {}, 8, 8,
                        {1, 8}, {8, 1}};
  EXPECT_EQ(i.direction, TensorDirection::OUTPUT);
  EXPECT_EQ(i.strides, (std::vector<std::uint32_t>{8, 1}));
  const NpuTensorInfo d{};
  EXPECT_EQ(d.tensor_type, TensorType::HW);
  EXPECT_EQ(d.data_type, DataType::UNKNOWN);
  const vart::JobHandle none;
  EXPECT_EQ(none.status, StatusCode::FAILURE);
  EXPECT_EQ(none.job_id, 0u);
  const vart::JobHandle h(StatusCode::SUCCESS, 7);
  EXPECT_EQ(h.job_id, 7u);
  const vart::QuantParameters q;
  EXPECT_EQ(q.scale, 0.0);
  EXPECT_EQ(q.rounding_mode, vart::RoundingMode::UNKNOWN);
}

// ---- tensors and allocation ------------------------------------------------------------------------

TEST(Tensors, AllocationIsAlignedZeroedOwnedAndShallowlyCopied) {
  NpuTensor kept;
  {
    const auto r = open(Desc().write());
    NpuTensorInfo info = r->get_tensors_info(TensorDirection::INPUT, TensorType::HW).at(1);
    NpuTensor t = r->allocate_npu_tensor(info);
    EXPECT_EQ(t.get_memory_type(), MemoryType::XRT_BO);
    auto* va = static_cast<std::uint8_t*>(t.get_virtual_address());
    ASSERT_NE(va, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(va) % 4096, 0u);
    EXPECT_EQ(t.get_buffer(), va);
    EXPECT_NE(t.get_physical_address(), 0u);
    for (std::size_t i = 0; i < info.size_in_bytes; ++i) EXPECT_EQ(va[i], 0);
    EXPECT_NO_THROW(t.sync_buffer());
    EXPECT_EQ(t.export_buffer(), -1);
    EXPECT_EQ(t.get_info().name, "b");
    kept = t;  // shallow: the same memory
    EXPECT_EQ(kept.get_virtual_address(), va);
    info.tensor_type = TensorType::CPU;  // CPU-typed infos may be allocated too
    EXPECT_NO_THROW(r->allocate_npu_tensor(info));
    EXPECT_EQ(error_of([&] { r->allocate_npu_tensor(info, 1); }),
              "memory bank 1 is not available (the emulator has one bank: 0)");
    EXPECT_NO_THROW(r->allocate_npu_tensor(info, 0));
  }
  // The runner is gone; the tensor still owns its memory (ASan checks this write).
  std::memset(kept.get_virtual_address(), 0x5A, kept.get_info().size_in_bytes);
  NpuTensor moved = std::move(kept);
  EXPECT_EQ(static_cast<const std::uint8_t*>(moved.get_virtual_address())[15], 0x5A);
}

TEST(Tensors, AllocationRejectsInvalidInfos) {
  const auto r = open(Desc().write());
  const NpuTensorInfo good = info_of("t", DataType::INT8, {1, 8}, 1);
  const std::vector<std::pair<std::function<void(NpuTensorInfo&)>, std::string>> cases = {
      {[](NpuTensorInfo& i) { i.name.clear(); }, "name is empty"},
      {[](NpuTensorInfo& i) { i.data_type = DataType::UNKNOWN; }, "data_type is UNKNOWN"},
      {[](NpuTensorInfo& i) { i.memory_layout = MemoryLayout::UNKNOWN; }, "memory_layout is UNKNOWN"},
      {[](NpuTensorInfo& i) { i.memory_layout = MemoryLayout::GENERIC; }, "GENERIC needs a memory_layout_order"},
      {[](NpuTensorInfo& i) { i.size = 0; }, "size (number of elements) is 0"},
      {[](NpuTensorInfo& i) { i.size_in_bytes = 0; }, "Tensor size is zero for tensor: t."},
      {[](NpuTensorInfo& i) { i.shape.clear(); }, "shape is empty"},
  };
  for (const auto& [change, message] : cases) {
    NpuTensorInfo bad = good;
    change(bad);
    EXPECT_THROW(r->allocate_npu_tensor(bad), std::invalid_argument) << message;
    EXPECT_TRUE(contains(error_of([&] { r->allocate_npu_tensor(bad); }), message)) << message;
  }
}

TEST(Tensors, SubTensorsViewARunnerAllocatedParent) {
  const auto r = open(Desc().write());
  const NpuTensorInfo whole = info_of("whole", DataType::UINT8, {4, 8}, 1);
  const NpuTensorInfo row = info_of("row", DataType::UINT8, {1, 8}, 1);
  NpuTensor sub;
  {
    NpuTensor parent = r->allocate_npu_tensor(whole);
    sub = r->allocate_sub_tensor(parent, row, 16);
    EXPECT_EQ(sub.get_virtual_address(), static_cast<std::uint8_t*>(parent.get_virtual_address()) + 16);
    EXPECT_EQ(sub.get_physical_address(), parent.get_physical_address() + 16);
    EXPECT_EQ(sub.get_memory_type(), MemoryType::XRT_BO);
    EXPECT_NO_THROW(r->allocate_sub_tensor(parent, row, 24));  // the last row fits exactly
    EXPECT_EQ(error_of([&] { r->allocate_sub_tensor(parent, row, 25); }),
              "Sub-tensor exceeds parent tensor bounds. Parent: whole, parent size: 32 bytes, offset: 25, "
              "sub-tensor size: 8 bytes.");
    EXPECT_THROW(r->allocate_sub_tensor(parent, row, std::numeric_limits<std::size_t>::max()), std::invalid_argument);
    EXPECT_EQ(error_of([&] { r->allocate_sub_tensor(sub, row, 0); }),
              "Cannot create sub-tensor from a sub-tensor: row");
    NpuTensorInfo empty = row;
    empty.size_in_bytes = 0;
    EXPECT_THROW(r->allocate_sub_tensor(parent, empty, 0), std::invalid_argument);
    EXPECT_THROW(r->allocate_sub_tensor(NpuTensor(), row, 0), std::invalid_argument);
  }
  // The parent is gone; the sub-tensor keeps its memory alive (ASan checks this write).
  std::memset(sub.get_virtual_address(), 1, 8);

  std::vector<std::uint8_t> user(32);
  const NpuTensor wrapped(whole, user.data(), MemoryType::USER_POINTER_NON_CMA);
  EXPECT_EQ(error_of([&] { r->allocate_sub_tensor(wrapped, row, 0); }),
            "Parent tensor is not runner-allocated, cannot create sub-tensor: whole");
}

TEST(Tensors, UserPointersAreWrappedNotOwned) {
  const NpuTensorInfo info = info_of("u", DataType::FLOAT32, {1, 4}, 4);
  auto storage = std::make_unique<std::vector<float>>(4, 1.5f);
  {
    NpuTensor t(info, storage->data(), MemoryType::USER_POINTER_NON_CMA);
    const NpuTensor copy = t;
    EXPECT_EQ(t.get_virtual_address(), storage->data());
    EXPECT_EQ(t.get_buffer(), storage->data());
    EXPECT_EQ(copy.get_virtual_address(), storage->data());
    EXPECT_EQ(t.get_physical_address(), 0u);
    EXPECT_EQ(t.get_memory_type(), MemoryType::USER_POINTER_NON_CMA);
    EXPECT_EQ(t.export_buffer(), -1);
    EXPECT_EQ(error_of([&] { t.sync_buffer(); }), "Buffer synchronization is not supported for wrapped tensors.");
  }
  storage.reset();  // the tensors never owned it: no double free (ASan)

  std::vector<float> data(4);
  const void* cdata = data.data();
  NpuTensor ro(info, cdata, MemoryType::USER_POINTER_NON_CMA);
  testing::internal::CaptureStderr();
  EXPECT_EQ(ro.get_virtual_address(), nullptr);  // mutable access to a const buffer
  EXPECT_EQ(ro.get_buffer(), nullptr);
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(static_cast<const NpuTensor&>(ro).get_virtual_address(), cdata);
  EXPECT_EQ(static_cast<const NpuTensor&>(ro).get_buffer(), cdata);

  int fd = 42;
  NpuTensor dma(info, &fd, MemoryType::DMA_FD);
  EXPECT_EQ(dma.get_buffer(), &fd);
  EXPECT_EQ(dma.get_virtual_address(), nullptr);

  EXPECT_EQ(error_of([&] { NpuTensor(info, static_cast<void*>(nullptr), MemoryType::USER_POINTER_NON_CMA); }),
            "Buffer pointer cannot be null");
  EXPECT_EQ(error_of([&] { NpuTensor(info, data.data(), MemoryType::UNKNOWN); }), "MemoryType cannot be UNKNOWN");
  EXPECT_THROW(NpuTensor(info, data.data(), MemoryType::XRT_BO), std::runtime_error);
  EXPECT_THROW(NpuTensor(info, data.data(), MemoryType::USER_POINTER_CMA), std::runtime_error);  // HW + CMA
  NpuTensorInfo cpu = info;
  cpu.tensor_type = TensorType::CPU;
  EXPECT_NO_THROW(NpuTensor(cpu, data.data(), MemoryType::USER_POINTER_CMA));
  NpuTensorInfo no_strides = info;
  no_strides.strides.clear();
  EXPECT_EQ(error_of([&] {
              NpuTensor(no_strides, data.data(), MemoryType::USER_POINTER_NON_CMA);
            }).rfind("Invalid NpuTensorInfo provided", 0),
            0u);
}

TEST(Tensors, PrintFormats) {
  NpuTensorInfo info = info_of("img", DataType::INT8, {1, 2, 3}, 1);
  info.memory_layout = MemoryLayout::GENERIC;
  info.memory_layout_order = {0, 2, 1};
  std::vector<std::uint8_t> data(6);
  const NpuTensor t(info, data.data(), MemoryType::USER_POINTER_NON_CMA);
  testing::internal::CaptureStdout();
  t.print_info();
  EXPECT_EQ(testing::internal::GetCapturedStdout(),
            "NpuTensor Info:\n"
            "  Name:                 img\n"
            "  Data Type:            INT8\n"
            "  Direction:            INPUT\n"
            "  Tensor Type:          HW\n"
            "  Memory Layout:        GENERIC\n"
            "  Memory Layout order:  0 2 1 \n"
            "  Shape:                1 2 3 \n"
            "  Strides:              6 3 1 \n"
            "  Size:                 6\n"
            "  Size in Bytes:        6\n"
            "\n"
            " Memory Type: USER_POINTER_NON_CMA\n");
  NpuTensor a = t;
  const NpuTensor b = std::move(a);
  testing::internal::CaptureStdout();
  a.print_info();  // NOLINT(bugprone-use-after-move): documented moved-from behaviour
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "NpuTensor Info: [Invalid - moved-from object]\n");
  EXPECT_EQ(a.get_memory_type(), MemoryType::UNKNOWN);
  EXPECT_TRUE(a.get_info().name.empty());
  EXPECT_EQ(b.get_info().name, "img");
}

}  // namespace
}  // namespace vart_emu_test
