# The PyTorch peer on the same GPU: sentence-transformers embedding the same 2,000 texts, batch 32, f32.
import sys, time, torch
from sentence_transformers import SentenceTransformer
texts = [l.rstrip("\n") for l in open(sys.argv[2], encoding="utf-8")]
m = SentenceTransformer(sys.argv[1], device="cuda").float()
m.encode(texts[:64], batch_size=32)
torch.cuda.synchronize(); t = time.perf_counter()
e = m.encode(texts, batch_size=32, normalize_embeddings=False)
torch.cuda.synchronize(); dt = time.perf_counter() - t
print(f"sentence-transformers {torch.__version__} on {torch.cuda.get_device_name()}: {len(texts)/dt:.0f} texts/s")
import numpy as np; np.save("/tmp/e-st.npy", e)
