"""Objectives exported through export_c and the command line in the export tests."""
import dlgrad as dl


def rosen(x):
    y = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
    return y, dl.dlgradient(y, x)


def mlp_loss(params, X, T):
    """Softmax cross-entropy of a relu network (logsumexp written out stably), and its gradients."""
    h = dl.relu(X @ params["W1"] + params["b1"])
    z = h @ params["W2"] + params["b2"]
    top = dl.max(z, axis=1, keepdims=True)
    lse = dl.log(dl.sum(dl.exp(z - top), axis=1, keepdims=True)) + top
    loss = dl.mean(dl.sum(T * (lse - z), axis=1))
    return loss, dl.dlgradient(loss, params)


def several(a, b, scale, s):
    """Several inputs (one baked-in number) and outputs of every rank."""
    u = a * b + s
    total = dl.sum(dl.sin(b * dl.sigmoid(u))) * scale
    da, ds = dl.dlgradient(total, a, s)
    return {"u": u, "total": total}, da, ds, a


def embedding_loss(weights, words):
    """An embedding looked up at int64 word indices (a runtime input checked by the C)."""
    e = dl.embed(dl.dlarray(words, "CB"), weights)
    return dl.sum(e * e), dl.dlgradient(dl.sum(e * e), weights)
