"""2-D convolution and its transpose, by im2col and one matrix product each.

im2col lays every kernel-sized window of the (padded) input out as a row, so the
convolution becomes one GEMM with the flattened weight. The transposed
convolution is the adjoint of the convolution: it multiplies by W^T and adds the
columns back into overlapping windows (col2im). The backward of each is written
with the other (and with ``Conv2dGradWeight``), so second derivatives flow through
both, as a WGAN-GP critic made of convolutions needs.

Tensors are NCHW, as in PyTorch, but the arrays these ops return are channels-last
in memory (an NCHW *view* of an NHWC array): a window's row is then a run of
contiguous channels, which makes im2col's copy and col2im's adds fast.
"""

from __future__ import annotations

from ...autograd import Function, is_grad_enabled
from ...backend import Fused, get_namespace, recomputes_to_save_memory, sliding_windows
from ...ops.linalg import matmul_arrays
from ...tensor import Tensor
from .batchnorm import channel_sum_kernel


def _pair(value, name, op):
    pair = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return pair


def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
    """floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1, PyTorch's formula."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(size, kernel, stride=1, padding=0, output_padding=0, dilation=1):
    """(size - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _channels_last(x):
    """The (N, H, W, C) view of an NCHW array: free, and contiguous when we made x."""
    return get_namespace(x).permute_dims(x, (0, 2, 3, 1))


def _channels_first(x):
    return get_namespace(x).permute_dims(x, (0, 3, 1, 2))


def place(x, size, offset):
    """An (N, *size, C) array of zeros with the (N, H, W, C) array x at ``offset``: pixel (i, j)
    of x lands on (i + top, j + left); what falls outside (a negative offset, say) is cut."""
    xp = get_namespace(x)
    n, h, w, c = x.shape
    (top, left), (out_h, out_w) = offset, size
    out = xp.zeros((n, out_h, out_w, c), dtype=x.dtype)
    rows = slice(max(0, -top), min(h, out_h - top))
    cols = slice(max(0, -left), min(w, out_w - left))
    if rows.start < rows.stop and cols.start < cols.stop:
        out[:, rows.start + top:rows.stop + top, cols.start + left:cols.stop + left, :] = x[:, rows, cols, :]
    return out


def im2col(x, kernel, stride, padding, dilation, output_size=None):
    """(N, C, H, W) -> (N*OH*OW, kh*kw*C): one row per output pixel, holding its window.

    ``output_size`` keeps only the first (OH, OW) windows: the adjoint of a transposed
    convolution whose output_padding added pixels that no window of the input reaches.
    """
    if output_size is None:
        output_size = tuple(
            conv_output_size(x.shape[2 + i], kernel[i], stride[i], padding[i], dilation[i]) for i in range(2)
        )
    return window_rows(_channels_last(x), output_size, kernel, stride, dilation, padding), tuple(output_size)


def window_rows(x, size, kernel, stride, dilation, offset):
    """The windows of an (N, H, W, C) array as rows (N*OH*OW, kh*kw*C), (OH, OW) = ``size``.

    Window (p, q) starts at (p sh - top, q sw - left) of x, (top, left) = ``offset`` (the
    padding), and reads zeros outside x. Each row lists the window's pixels row by row,
    each pixel's C channels together: (offset i, offset j, channel).
    """
    xp = get_namespace(x)
    n, h, w, c = x.shape
    out = xp.empty((n * size[0] * size[1], kernel[0] * kernel[1] * c), dtype=x.dtype)
    return window_rows_kernel(x, h, w, c, *size, *kernel, *stride, *dilation, *offset, out)


def _window_rows(x, h, w, c, out_h, out_w, kh, kw, sh, sw, dh, dw, top, left, out):
    """window_rows' reference: the windows of the zero-padded input, a strided view on NumPy
    (backend.sliding_windows), copied into ``out`` viewed as (N, OH, OW, kh, kw, C)."""
    extent = ((out_h - 1) * sh + (kh - 1) * dh + 1, (out_w - 1) * sw + (kw - 1) * dw + 1)
    if top or left or extent[0] > h or extent[1] > w:
        x = place(x, extent, (top, left))  # zeros around x, as far as the windows reach
    windows = sliding_windows(x, (kh, kw), (sh, sw), (dh, dw))[:, :out_h, :out_w, ...]
    # One copy, straight into out: a reshape of the contiguous out is a view in NumPy, CuPy and
    # array-api-strict (the standard does not promise it; the tests would find out untouched).
    get_namespace(out).reshape(out, windows.shape)[...] = windows
    return out


# One thread per element of the rows: the pixel its window reads, or a zero in the padding.
# Where the array operations pad (a zeroed array and a slice assignment) and then copy the
# windows out, this is one launch, and the padded array is never made.
window_rows_kernel = Fused(
    "window_rows",
    "raw T x, int32 h, int32 w, int32 c, int32 out_h, int32 out_w, int32 kh, int32 kw, "
    "int32 sh, int32 sw, int32 dh, int32 dw, int32 top, int32 left",
    "T out",
    """
    long long t = i;
    const int ch = t % c; t /= c;
    const int kj = t % kw; t /= kw;
    const int ki = t % kh; t /= kh;
    const int q = t % out_w; t /= out_w;
    const int p = t % out_h;
    const long long b = t / out_h;
    const int row = p * sh + ki * dh - top, col = q * sw + kj * dw - left;
    out = (row >= 0 && row < h && col >= 0 && col < w) ? x[((b * h + row) * w + col) * c + ch] : (T)0;
    """,
    _window_rows,
)


def col2im(cols, shape, kernel, stride, padding, dilation):
    """The adjoint of im2col: add each window in ``cols`` (N, H', W', kh, kw, C) back into (N, C, H, W).

    Overlapping windows add up. On the GPU one kernel gathers, for each output element,
    the window entries that land on it (``col2im_kernel``); elsewhere ``_col2im`` loops
    over the kh*kw kernel offsets only, each one strided slice-add over the whole batch.
    """
    xp = get_namespace(cols)
    n, c, h, w = shape
    out = xp.empty((n, h, w, c), dtype=cols.dtype)
    col2im_kernel(cols, h, w, c, *cols.shape[1:3], *kernel, *stride, *padding, *dilation, out)
    return _channels_first(out)


def _col2im(cols, h, w, c, rows_h, rows_w, kh, kw, sh, sw, ph, pw, dh, dw, out):
    """col2im's reference: slice-adds into a padded canvas, whose inside is copied to ``out``."""
    xp = get_namespace(cols)
    canvas = xp.zeros((out.shape[0], h + 2 * ph, w + 2 * pw, c), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            canvas[:, top:top + (rows_h - 1) * sh + 1:sh, left:left + (rows_w - 1) * sw + 1:sw, :] += cols[:, :, :, i, j, :]
    out[...] = canvas[:, ph:ph + h, pw:pw + w, :]
    return out


# One thread per output element (b, y, x, ch) of the channels-last result: it sums the
# window entries cols[b, r, q, i, j, ch] with y + ph = r sh + i dh and x + pw = q sw + j dw.
# 16 slice-adds and a canvas become one launch (a gather: no two threads write one element).
col2im_kernel = Fused(
    "col2im",
    "raw T cols, int32 h, int32 w, int32 c, int32 rows_h, int32 rows_w, int32 kh, int32 kw, "
    "int32 sh, int32 sw, int32 ph, int32 pw, int32 dh, int32 dw",
    "T out",
    """
    long long t = i;
    const int ch = t % c; t /= c;
    const int x = t % w; t /= w;
    const int y = t % h;
    const long long b = t / h;
    T acc = 0;
    for (int ki = 0; ki < kh; ++ki) {
        const int ty = y + ph - ki * dh;
        if (ty < 0 || ty % sh != 0 || ty / sh >= rows_h) continue;
        const int r = ty / sh;
        for (int kj = 0; kj < kw; ++kj) {
            const int tx = x + pw - kj * dw;
            if (tx < 0 || tx % sw != 0 || tx / sw >= rows_w) continue;
            const int q = tx / sw;
            acc += cols[((((b * rows_h + r) * rows_w + q) * kh + ki) * kw + kj) * c + ch];
        }
    }
    out = acc;
    """,
    _col2im,
)


def subpixel_applies(kernel, stride, dilation, in_channels, out_channels):
    """Whether ``conv_transpose_subpixel`` can run, and should: a stride above 1 that divides
    the kernel, no dilation, and Cin <= sh*sw*Cout.

    The sub-pixel path copies Q*Q windows of the input (Q*Q*Cin numbers per input pixel);
    col2im adds kh*kw*Cout numbers per input pixel back into place. With many output
    channels col2im moves more; with few (a generator's last layer, 64 -> 1) the copy does.
    """
    divides = all(s > 1 and k % s == 0 for k, s in zip(kernel, stride)) and tuple(dilation) == (1, 1)
    return divides and in_channels <= stride[0] * stride[1] * out_channels


def _phase_plan(kernel, stride, padding, out_size):
    """For one spatial dimension: the sub-pixel decomposition of a transposed convolution.

    Output pixel o gets the taps t = r + s q (q = 0..Q-1, Q = k/s) of its phase
    r = (o + p) mod s, from input pixels m - q, where m = (o + p - r) / s. Returns
    Q and the range [lo, hi) of the m that some output pixel uses.
    """
    ms = [(o + padding) // stride for o in (0, out_size - 1)]  # m grows with o
    return kernel // stride, ms[0], ms[1] + 1


def subpixel_weight(weight, stride):
    """(Cin, Cout, kh, kw) -> (Qh*Qw*Cin, sh*sw*Cout): row (window offset, channel), column (phase, channel)."""
    xp = get_namespace(weight)
    cin, cout, kh, kw = weight.shape
    (sh, sw), qh, qw = stride, kh // stride[0], kw // stride[1]
    out = xp.empty((qh * qw * cin, sh * sw * cout), dtype=weight.dtype)
    return subpixel_weight_kernel(weight, cin, cout, qh, qw, sh, sw, out)


def _subpixel_weight(weight, cin, cout, qh, qw, sh, sw, out):
    """subpixel_weight's reference. Tap t = q s + r splits into (q, r); window offset e of a
    phase-r output holds input pixel m - (Q-1-e), which meets tap q = Q-1-e: the q axis, reversed.
    """
    xp = get_namespace(weight)
    weight = xp.flip(xp.reshape(weight, (cin, cout, qh, sh, qw, sw)), axis=(2, 4))
    weight = xp.permute_dims(weight, (2, 4, 0, 3, 5, 1))  # (eh, ew, Cin, rh, rw, Cout)
    xp.reshape(out, weight.shape)[...] = weight  # one copy, straight into out (a view: see _window_rows)
    return out


# One thread per element of the laid-out weight, reading its tap: one launch where the
# reshapes, the flip and the copy of a permuted view were three.
subpixel_weight_kernel = Fused(
    "subpixel_weight", "raw T weight, int32 cin, int32 cout, int32 qh, int32 qw, int32 sh, int32 sw", "T out",
    """
    long long t = i;
    const int co = t % cout; t /= cout;
    const int rw = t % sw; t /= sw;
    const int rh = t % sh; t /= sh;
    const int ci = t % cin; t /= cin;
    const int ew = t % qw;
    const int eh = t / qw;
    out = weight[(((long long)ci * cout + co) * (qh * sh) + (qh - 1 - eh) * sh + rh) * (qw * sw) + (qw - 1 - ew) * sw + rw];
    """,
    _subpixel_weight,
)


def conv_transpose_subpixel(x, weight, stride, padding, output_size):
    """The transposed convolution as one GEMM over Q x Q windows of the input, Q = k / s.

    Each output pixel's taps depend only on its phase (its position modulo the
    stride), so one window of the input feeds a whole s x s block of outputs, one
    per phase: (N*Jh*Jw, Qh*Qw*Cin) @ (Qh*Qw*Cin, sh*sw*Cout), then each phase's
    plane is copied into its strided grid of the output. No col2im: the GEMM sums
    the taps. Same result as the col2im path (a test holds them together).
    """
    xp = get_namespace(x, weight)
    n = x.shape[0]
    cout = weight.shape[1]
    plan = [_phase_plan(weight.shape[2 + i], stride[i], padding[i], output_size[i]) for i in range(2)]
    (qh, lo_h, hi_h), (qw, lo_w, hi_w) = plan
    # Window j covers input pixels j-(Q-1) .. j, zeros outside the input; the windows
    # used are those j in [lo, hi). (A large padding can leave some input pixels outside
    # every window: no row reads them.)
    jh, jw = hi_h - lo_h, hi_w - lo_w
    rows = window_rows(_channels_last(x), (jh, jw), (qh, qw), (1, 1), (1, 1), (qh - 1 - lo_h, qw - 1 - lo_w))
    planes = matmul_arrays(rows, subpixel_weight(weight, stride))  # (N*Jh*Jw, sh*sw*Cout)
    # Output pixel o is in phase r = (o + p) mod s of window (o + p) // s - lo: its place in
    # the planes, (window, phase), is o + p - s lo in row-major order.
    out = xp.empty((n,) + tuple(output_size) + (cout,), dtype=planes.dtype)
    offset = (padding[0] - stride[0] * lo_h, padding[1] - stride[1] * lo_w)
    interleave_kernel(planes, *output_size, cout, jh, jw, *stride, *offset, out)
    return _channels_first(out)


def _interleave(planes, out_h, out_w, c, jh, jw, sh, sw, off_h, off_w, out):
    """out[:, y, x] = planes[:, j, k, r, q] (planes as (N*Jh*Jw, sh*sw*C)) with y + off_h = j sh + r
    and x + off_w = k sw + q: each phase's plane copied into its strided grid of the output."""
    planes = get_namespace(planes).reshape(planes, (out.shape[0], jh, jw, sh, sw, c))
    for r in range(sh):
        y0 = (r - off_h) % sh  # the first output row in phase r, in window j0
        rows, j0 = len(range(y0, out_h, sh)), (y0 + off_h) // sh
        for q in range(sw):
            x0 = (q - off_w) % sw
            cols, k0 = len(range(x0, out_w, sw)), (x0 + off_w) // sw
            if rows and cols:  # an output smaller than the stride can leave a phase empty
                out[:, y0::sh, x0::sw, :] = planes[:, j0:j0 + rows, k0:k0 + cols, r, q, :]
    return out


# One thread per output element, gathering from its phase's plane: one launch where the
# sh*sw strided slice assignments were as many.
interleave_kernel = Fused(
    "interleave",
    "raw T planes, int32 out_h, int32 out_w, int32 c, int32 jh, int32 jw, int32 sh, int32 sw, int32 off_h, int32 off_w",
    "T out",
    """
    long long t = i;
    const int ch = t % c; t /= c;
    const int x = t % out_w + off_w; t /= out_w;
    const int y = t % out_h + off_h;
    const long long b = t / out_h;
    out = planes[((((b * jh + y / sh) * jw + x / sw) * sh + y % sh) * sw + x % sw) * c + ch];
    """,
    _interleave,
)


def _flat_weight(weight):
    """(A, B, kh, kw) -> (A, kh*kw*B): the kernel laid out in the order im2col uses (offset, channel)."""
    xp = get_namespace(weight)
    a, b, kh, kw = weight.shape
    return xp.reshape(xp.permute_dims(weight, (0, 2, 3, 1)), (a, kh * kw * b))


class Conv2d(Function):
    """y[n, o] = sum_c W[o, c] (cross-correlated with) x[n, c] + b[o]:  one GEMM of im2col(x) with W^T.

    x (N, C, H, W), weight (O, C, kh, kw), bias (O,) or absent -> y (N, O, OH, OW).
    The bias is added in place to the GEMM's fresh output (one pass, no temporary)
    and its gradient is gy summed over the batch and the pixels.
    """

    def __init__(self, stride, padding, dilation, output_size=None, cols=None):
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.output_size = output_size
        self.cols = cols  # im2col(x) when the caller has it already (a transposed conv's backward)

    def forward(self, x, weight, bias=None):
        xp = get_namespace(x, weight)
        o = weight.shape[0]
        if self.cols is None:
            cols, (oh, ow) = im2col(x, weight.shape[2:], self.stride, self.padding, self.dilation, self.output_size)
        else:  # given by the caller, who also gave output_size
            cols, (oh, ow) = self.cols, self.output_size
        y = matmul_arrays(cols, xp.permute_dims(_flat_weight(weight), (1, 0)))  # (N*OH*OW, O)
        if bias is not None:
            y += bias  # rows are pixels, columns channels: the bias broadcasts along the rows
        # The weight gradient needs the same columns, but they are kh*kw times the input
        # (12.8 MB for the DCGAN's second conv at batch 64): on the CPU Conv2dGradWeight
        # redoes im2col rather than keep them alive until backward (chapter 13 measures the
        # trade); on a GPU they are kept (backend.recomputes_to_save_memory).
        keep = self.needs_input_grad[1] and not recomputes_to_save_memory(x)
        self.cols = cols if keep else None
        return _channels_first(xp.reshape(y, (x.shape[0], oh, ow, o)))

    def backward(self, gy):
        x, weight = self.inputs[:2]
        args = (self.stride, self.padding, self.dilation)
        gx = ConvTranspose2d(*args, x.shape[2:])(gy, weight) if self.needs_input_grad[0] else None
        gw = Conv2dGradWeight(*args, weight.shape[2:], cols=self.cols)(x, gy) if self.needs_input_grad[1] else None
        return (gx, gw) + _bias_grad(gy, self.needs_input_grad)

    def release(self):
        super().release()
        self.cols = None


class ConvTranspose2d(Function):
    """y = the adjoint of conv2d(., W) applied to x, + b:  x W (one GEMM), then col2im.

    x (N, Cin, H, W), weight (Cin, Cout, kh, kw), bias (Cout,) or absent -> y (N, Cout, *output_size).
    """

    def __init__(self, stride, padding, dilation, output_size):
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.output_size = tuple(output_size)

    def forward(self, x, weight, bias=None):
        xp = get_namespace(x, weight)
        n, cin, h, w = x.shape
        _, cout, kh, kw = weight.shape
        if subpixel_applies((kh, kw), self.stride, self.dilation, cin, cout):
            # the fast path (chapter 13): no col2im, the taps are summed by the GEMM
            y = conv_transpose_subpixel(x, weight, self.stride, self.padding, self.output_size)
        else:
            rows = xp.reshape(_channels_last(x), (n * h * w, cin))
            cols = matmul_arrays(rows, _flat_weight(weight))  # (N*H*W, kh*kw*Cout)
            cols = xp.reshape(cols, (n, h, w, kh, kw, cout))
            shape = (n, cout) + self.output_size
            y = col2im(cols, shape, (kh, kw), self.stride, self.padding, self.dilation)
        if bias is not None:
            # col2im returns a channels-first view of its output, and the standard leaves
            # writes through views to each library: add out of place
            y = y + xp.reshape(bias, (1, cout, 1, 1))
        return y

    def backward(self, gy):
        x, weight = self.inputs[:2]
        args = (self.stride, self.padding, self.dilation)
        cols = None
        if self.needs_input_grad[0] and self.needs_input_grad[1]:
            # both gradients correlate gy's windows with something: copy them out once
            cols, _ = im2col(gy.data, weight.shape[2:], *args, x.shape[2:])
        gx = Conv2d(*args, x.shape[2:], cols=cols)(gy, weight) if self.needs_input_grad[0] else None
        gw = Conv2dGradWeight(*args, weight.shape[2:], cols=cols)(gy, x) if self.needs_input_grad[1] else None
        return (gx, gw) + _bias_grad(gy, self.needs_input_grad)


def _bias_grad(gy, needs_input_grad):
    """() without a bias input; else (the sum of gy over the batch and the pixels,) or (None,)."""
    if len(needs_input_grad) < 3:
        return ()
    if not needs_input_grad[2]:
        return (None,)
    if is_grad_enabled():  # double backprop: the sum as a Tensor op, to be differentiated
        return (gy.sum((0, 2, 3)),)
    # one kernel on the GPU (a CuPy sum with one output channel runs on one block: slow)
    return (Tensor(get_namespace(gy.data).reshape(channel_sum_kernel(gy.data), (-1,))),)


class Conv2dGradWeight(Function):
    """dW = sum over batch and pixels of gy (outer) im2col(x):  gy^T (O, N*OH*OW) times the columns.

    The weight gradient of conv2d as an op of its own, so that it can be differentiated:
    its backward is a conv2d (for gy) and a transposed conv (for x), both with ggW.
    """

    def __init__(self, stride, padding, dilation, kernel, cols=None):
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.kernel = tuple(kernel)
        self.cols = cols  # im2col(x) when the caller has it already (a transposed conv's backward)

    def forward(self, x, gy):
        xp = get_namespace(x, gy)
        n, o, oh, ow = gy.shape
        cols = self.cols
        if cols is None:
            cols, _ = im2col(x, self.kernel, self.stride, self.padding, self.dilation, (oh, ow))
        self.cols = None  # backward needs x and gy only
        gy_rows = xp.reshape(_channels_last(gy), (n * oh * ow, o))
        flat = matmul_arrays(xp.permute_dims(gy_rows, (1, 0)), cols)  # (O, kh*kw*C)
        kh, kw = self.kernel
        return xp.permute_dims(xp.reshape(flat, (o, kh, kw, x.shape[1])), (0, 3, 1, 2))

    def backward(self, ggw):
        x, gy = self.inputs
        args = (self.stride, self.padding, self.dilation)
        gx = ConvTranspose2d(*args, x.shape[2:])(gy, ggw) if self.needs_input_grad[0] else None
        ggy = Conv2d(*args, gy.shape[2:])(x, ggw) if self.needs_input_grad[1] else None
        return gx, ggy


def _check_conv_args(op, x, weight, bias, channel_axis, stride, padding, dilation):
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D weight, got shape {weight.shape}")
    if x.shape[1] != weight.shape[channel_axis]:
        layout = "(out, in, kh, kw)" if channel_axis == 1 else "(in, out, kh, kw)"
        raise ValueError(
            f"{op}: input has {x.shape[1]} channels (shape {x.shape}) but the weight {layout} "
            f"of shape {weight.shape} expects {weight.shape[channel_axis]}"
        )
    stride, padding, dilation = (_pair(v, n, op) for v, n in ((stride, "stride"), (padding, "padding"), (dilation, "dilation")))
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: stride and dilation must be >= 1 and padding >= 0, got stride={stride}, padding={padding}, dilation={dilation}")
    out_channels = weight.shape[1 - channel_axis]
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{op}: bias must have shape ({out_channels},), got {bias.shape}")
    return stride, padding, dilation


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """y = W (cross-correlated with) x + b;  x (N, C, H, W), weight (O, C, kh, kw) -> (N, O, OH, OW)."""
    stride, padding, dilation = _check_conv_args("conv2d", x, weight, bias, 1, stride, padding, dilation)
    out = tuple(conv_output_size(x.shape[2 + i], weight.shape[2 + i], stride[i], padding[i], dilation[i]) for i in range(2))
    if min(out) < 1:
        raise ValueError(
            f"conv2d: input of spatial size {x.shape[2:]} (padded by {padding}) is smaller than the "
            f"dilated kernel {tuple(dilation[i] * (weight.shape[2 + i] - 1) + 1 for i in range(2))}"
        )
    op = Conv2d(stride, padding, dilation)
    return op(x, weight) if bias is None else op(x, weight, bias)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1):
    """The adjoint of conv2d;  x (N, Cin, H, W), weight (Cin, Cout, kh, kw) -> (N, Cout, OH, OW)."""
    stride, padding, dilation = _check_conv_args("conv_transpose2d", x, weight, bias, 0, stride, padding, dilation)
    output_padding = _pair(output_padding, "output_padding", "conv_transpose2d")
    for i in range(2):
        if not 0 <= output_padding[i] < max(stride[i], dilation[i]):
            raise ValueError(
                f"conv_transpose2d: output_padding {output_padding} must be smaller than stride {stride} "
                f"or dilation {dilation} in each dimension"
            )
    out = tuple(
        conv_transpose_output_size(x.shape[2 + i], weight.shape[2 + i], stride[i], padding[i], output_padding[i], dilation[i])
        for i in range(2)
    )
    if min(out) < 1:
        raise ValueError(f"conv_transpose2d: the output size {out} is not positive; reduce padding {padding}")
    op = ConvTranspose2d(stride, padding, dilation, out)
    return op(x, weight) if bias is None else op(x, weight, bias)
