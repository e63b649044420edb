"""Runtime-index gathers against PyTorch as an independent reference (skipped without torch):
torch.gather (take_along_axis), torch.index_select (take), torch.nn.functional.embedding
(embed, whose table is MATLAB's dim x words: torch's transposed) and Tensor.index_add_ (a
gradient step on a table, which the graph writes as index_add). Gradients from torch's autograd."""
import numpy as np
import pytest

import dlgrad as dl

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(21)
X = RNG.standard_normal((5, 6, 3))
ALONG = RNG.integers(0, 6, (5, 9, 3))    # torch.gather / take_along_axis along axis 1, repeats
SELECT = np.array([4, 0, 4, 2, 5, 4, 1])  # torch.index_select / take along axis 1, repeats
TABLE = RNG.standard_normal((7, 40))      # embed: dim 7 x 40 words
WORDS = RNG.integers(0, 40, (1, 33))      # more than two cache lines of indices: the blocked loops
WORDS[0, [2, 20, 31]] = 11
U_ALONG, U_SELECT, U_EMBED = (RNG.standard_normal(s) for s in ((5, 9, 3), (5, 7, 3), (7, 33)))
LR = 0.25


def _objective(x, along, select, table, words, u_along, u_select, u_embed):
    a = dl.take_along_axis(x, along, 1)
    b = dl.take(x, select, 1)
    e = dl.embed(dl.dlarray(words, "CB"), table)
    loss = dl.sum(dl.tanh(a) * u_along) + dl.sum(b * b * u_select) + dl.sum(dl.stripdims(e) ** 3 * u_embed)
    gx, gt = dl.dlgradient(loss, x, table)
    return a, b, e, loss, gx, gt, table - LR * gt


def _torch_reference(dtype):
    t = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in (("x", X), ("table", TABLE.T))}
    along, select = torch.from_numpy(ALONG), torch.from_numpy(SELECT)
    a = torch.gather(t["x"], 1, along)
    b = torch.index_select(t["x"], 1, select)
    e = torch.nn.functional.embedding(torch.from_numpy(WORDS[0]), t["table"])   # (tokens, dim)
    u = {k: torch.tensor(v, dtype=dtype) for k, v in (("a", U_ALONG), ("b", U_SELECT), ("e", U_EMBED.T))}
    loss = (torch.tanh(a) * u["a"]).sum() + (b * b * u["b"]).sum() + (e ** 3 * u["e"]).sum()
    loss.backward()
    # the SGD step on the table rows torch's way: index_add_ of each looked-up row's gradient
    de = (3 * e.detach() ** 2 * u["e"])
    stepped = t["table"].detach().clone().index_add_(0, torch.from_numpy(WORDS[0]), -LR * de)
    return a, b, e, loss, t["x"].grad, t["table"].grad, stepped


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gathers_and_their_gradients_against_torch(dtype):
    args = (dl.dlarray(X.astype(dtype)), ALONG, SELECT, dl.dlarray(TABLE.astype(dtype)), WORDS,
            *(dl.dlarray(u.astype(dtype)) for u in (U_ALONG, U_SELECT, U_EMBED)))
    got = dl.dlfeval(_objective, *args)
    want = [w.detach().numpy() for w in _torch_reference(torch.float64 if dtype == np.float64 else torch.float32)]
    transposed = {2, 5, 6}   # embed's output and the table are dim x words; torch's are words x dim
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    for k, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        assert g.dtype == dtype, k
        np.testing.assert_allclose(g, w.T if k in transposed else w, **tol, err_msg=f"result {k}")


def test_the_table_update_is_an_index_add():
    """The step on the table is the graph's index_add (the scatter written into the table), the
    op that torch's index_add_ is compared with above."""
    args = (dl.dlarray(X), ALONG, SELECT, dl.dlarray(TABLE), WORDS, *map(dl.dlarray, (U_ALONG, U_SELECT, U_EMBED)))
    assert "index_add" in dl.lower(_objective, *args).graph_text
