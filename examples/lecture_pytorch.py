"""The lecture's PyTorch code for Iris, to check retroprop against (exercise 4).

From the slides "Retropropagação" by Paulo Ricardo Lisboa de Almeida (CC BY 4.0):
a 4-4-3-3 network with sigmoid hidden layers, cross-entropy on its logits, and
per-sample gradient descent with eta = 0.05. Run it to train in PyTorch, print the
last layer's bias before the first iterations, and save the weights:

    python examples/lecture_pytorch.py            # writes iris.pt
    retroprop explain --torch-model iris.pt --torch-class lecture_pytorch:NeuralNetwork

(run the second command from this folder, or with it on PYTHONPATH). The tests and
the benchmarks use this same class.
"""

import torch
from torch import nn


class NeuralNetwork(nn.Module):
    """The lecture's network: fc1, fc2, fc3 with torch.sigmoid between them."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 3)
        self.fc3 = nn.Linear(3, 3)

    def forward(self, x):
        x = torch.sigmoid(self.fc1(x))
        x = torch.sigmoid(self.fc2(x))
        return self.fc3(x)


def main(path: str = "iris.pt", epochs: int = 100, seed: int = 1) -> None:
    from retroprop.recipe import prepare_data

    split = prepare_data(seed=seed)  # the split and standardisation `retroprop` uses
    X = torch.tensor(split.X_train, dtype=torch.float32)
    y = torch.tensor(split.y_train)
    torch.manual_seed(seed)
    model = NeuralNetwork()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for epoch in range(epochs):
        for k, i in enumerate(torch.randperm(len(y))):
            if epoch == 0 and k < 3:
                print("fc3.bias before this iteration:", model.fc3.bias.tolist())
            optimizer.zero_grad()
            loss = criterion(model(X[i : i + 1]), y[i : i + 1])
            loss.backward()
            optimizer.step()
    torch.save(model.state_dict(), path)
    print(f"last loss {loss.item():.4f}; saved the weights to {path}")


if __name__ == "__main__":
    main()
